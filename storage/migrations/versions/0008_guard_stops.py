"""guard_stops: sources a run stopped at a login wall or guard page; alerts: `offer_id` optional, for the
alerts that say a source needs a human

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import nigran.storage.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'guard_stops',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('capture_id', sa.Integer(), nullable=True),
        sa.Column('next_step', sa.Text(), nullable=False),
        sa.Column('at', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_guard_stops_capture_id_captures')),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_guard_stops_run_id_runs')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_guard_stops')),
    )
    with op.batch_alter_table('guard_stops', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guard_stops_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_guard_stops_source'), ['source'], unique=False)
    # On SQLite a copy of the table: storage/db.py runs migrations with foreign key actions off, so the
    # deliveries that refer to alerts stay.
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('offer_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM alert_deliveries WHERE alert_id IN (SELECT id FROM alerts WHERE offer_id IS NULL)")
    op.execute("DELETE FROM alerts WHERE offer_id IS NULL")
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('offer_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('guard_stops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guard_stops_source'))
        batch_op.drop_index(batch_op.f('ix_guard_stops_run_id'))
    op.drop_table('guard_stops')
