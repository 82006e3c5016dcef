"""installation: the data home (and its signing key) a database's evidence belongs to

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import nigran.storage.models

revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'installation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('home', sa.Text(), nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('public_key', sa.String(length=64), nullable=False),
        sa.Column('recorded_at', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_installation')),
    )


def downgrade() -> None:
    op.drop_table('installation')
