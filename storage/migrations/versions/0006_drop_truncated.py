"""captures: drop `truncated`, which nothing ever set (a response over DOWNLOAD_MAXSIZE is refused, never cut)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place (SQLite 3.35+ and PostgreSQL): a batch copy of `captures` would trip the foreign keys into it.
    op.drop_column('captures', 'truncated')


def downgrade() -> None:
    op.add_column('captures', sa.Column('truncated', sa.Boolean(), nullable=False, server_default=sa.false()))
