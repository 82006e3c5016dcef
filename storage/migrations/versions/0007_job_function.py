"""apscheduler_jobs: stored schedules name their function `nigran.scheduler:run_scheduled_crawl`

The code now installs as the `nigran` package, so the top-level `scheduler` module a stored job names is
gone; APScheduler would fail to load every schedule stored before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""
import pickle

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OLD, NEW = "scheduler:run_scheduled_crawl", "nigran.scheduler:run_scheduled_crawl"
JOBS = sa.table('apscheduler_jobs', sa.column('id', sa.Unicode), sa.column('job_state', sa.LargeBinary))


def _rename(before: str, after: str) -> None:
    """APScheduler keeps each job as its pickled state (a dict naming the function): rewrite that name."""
    conn = op.get_bind()
    for job_id, blob in conn.execute(sa.select(JOBS.c.id, JOBS.c.job_state)).all():
        state = pickle.loads(blob)
        if state.get("func") == before:
            state["func"] = after
            blob = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
            conn.execute(JOBS.update().where(JOBS.c.id == job_id).values(job_state=blob))


def upgrade() -> None:
    _rename(OLD, NEW)


def downgrade() -> None:
    _rename(NEW, OLD)
