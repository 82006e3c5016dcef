"""evidence: WARC pointers on captures, custody log with head and checkpoints, browser artefacts

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

import nigran.storage.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

GENESIS = '0' * 64


def upgrade() -> None:
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warc_file', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('warc_record_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('warc_offset', sa.BigInteger(), nullable=True))

    op.create_table('custody_events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('operator', sa.String(length=128), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_custody_events_capture_id_captures')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_custody_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_custody_events_hash'))
    )
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_events_capture_id'), ['capture_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custody_events_kind'), ['kind'], unique=False)

    head = op.create_table('custody_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_head'))
    )
    op.bulk_insert(head, [{'id': 1, 'seq': 0, 'hash': GENESIS}])

    op.create_table('custody_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('root', sa.String(length=64), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('peaks', sa.JSON(), nullable=False),
    sa.Column('public_key', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_checkpoints'))
    )
    with op.batch_alter_table('custody_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_checkpoints_tree_size'), ['tree_size'], unique=False)

    op.create_table('capture_artifacts',
    sa.Column('capture_id', sa.Integer(), nullable=False),
    sa.Column('page_capture_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_capture_artifacts_capture_id_captures')),
    sa.ForeignKeyConstraint(['page_capture_id'], ['captures.id'], name=op.f('fk_capture_artifacts_page_capture_id_captures')),
    sa.PrimaryKeyConstraint('capture_id', name=op.f('pk_capture_artifacts'))
    )
    with op.batch_alter_table('capture_artifacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capture_artifacts_page_capture_id'), ['page_capture_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('capture_artifacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capture_artifacts_page_capture_id'))
    op.drop_table('capture_artifacts')
    with op.batch_alter_table('custody_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_checkpoints_tree_size'))
    op.drop_table('custody_checkpoints')
    op.drop_table('custody_head')
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_events_kind'))
        batch_op.drop_index(batch_op.f('ix_custody_events_capture_id'))
    op.drop_table('custody_events')
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.drop_column('warc_offset')
        batch_op.drop_column('warc_record_id')
        batch_op.drop_column('warc_file')
