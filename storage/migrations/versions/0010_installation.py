"""installation: the data home (and its signing key) a database's evidence belongs to

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import nigran.storage.models

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TABLE_COMMENT = ("The data home this database's bodies, WARCs and signing key live in (one row, id 1), recorded "
                 "when that home first writes to the database (storage/installation.py).")


def upgrade() -> None:
    op.create_table(
        'installation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('home', sa.Text(), nullable=False,
                  comment='Absolute path of the data home (bodies, WARCs, keys)'),
        sa.Column('key_id', sa.String(length=16), nullable=False, comment="Fingerprint of the home's signing key"),
        sa.Column('public_key', sa.String(length=64), nullable=False, comment="The home's minisign public key"),
        sa.Column('recorded_at', nigran.storage.models.UTCDateTime(timezone=True), nullable=False,
                  comment='When the home first wrote here (UTC)'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_installation')),
        comment=TABLE_COMMENT,
    )


def downgrade() -> None:
    op.drop_table('installation')
