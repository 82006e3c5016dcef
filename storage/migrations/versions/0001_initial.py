"""initial schema: runs, captures, posts, offers, identifiers, reveals

Revision ID: 0001
Revises: 
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

import nigran.storage.models

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reveals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('operator', sa.String(length=128), nullable=False),
    sa.Column('offer_ids', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reveals'))
    )
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('started_at', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', nigran.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    op.create_table('captures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('final_url', sa.Text(), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('headers', sa.JSON(), nullable=False),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('body_size', sa.BigInteger(), nullable=False),
    sa.Column('truncated', sa.Boolean(), nullable=False),
    sa.Column('fetched_at', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('circuit_id', sa.String(length=32), nullable=True),
    sa.Column('exit_fingerprint', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_captures_run_id_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_captures'))
    )
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_captures_body_sha256'), ['body_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_captures_fetched_at'), ['fetched_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_captures_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_captures_source'), ['source'], unique=False)

    op.create_table('posts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('post_key', sa.String(length=512), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('author', sa.String(length=256), nullable=True),
    sa.Column('posted_at', nigran.storage.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('extra', sa.JSON(), nullable=False),
    sa.Column('first_seen', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sightings', sa.Integer(), nullable=False),
    sa.Column('first_capture_id', sa.Integer(), nullable=False),
    sa.Column('capture_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['capture_id'], ['captures.id'], name=op.f('fk_posts_capture_id_captures')),
    sa.ForeignKeyConstraint(['first_capture_id'], ['captures.id'], name=op.f('fk_posts_first_capture_id_captures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts')),
    sa.UniqueConstraint('source', 'post_key', name=op.f('uq_posts_source'))
    )
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_posts_first_seen'), ['first_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_posts_source'), ['source'], unique=False)

    op.create_table('offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('prices', sa.JSON(), nullable=False),
    sa.Column('contacts', sa.JSON(), nullable=False),
    sa.Column('volume', sa.BigInteger(), nullable=True),
    sa.Column('first_seen', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', nigran.storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sightings', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_offers_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers')),
    sa.UniqueConstraint('post_id', name=op.f('uq_offers_post_id'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offers_first_seen'), ['first_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_offers_source'), ['source'], unique=False)

    op.create_table('offer_identifiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('hmac', sa.String(length=64), nullable=False),
    sa.Column('masked', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_offer_identifiers_offer_id_offers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer_identifiers')),
    sa.UniqueConstraint('offer_id', 'type', 'hmac', name=op.f('uq_offer_identifiers_offer_id'))
    )
    with op.batch_alter_table('offer_identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_identifiers_hmac'), ['hmac'], unique=False)
        batch_op.create_index(batch_op.f('ix_offer_identifiers_offer_id'), ['offer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('offer_identifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offer_identifiers_offer_id'))
        batch_op.drop_index(batch_op.f('ix_offer_identifiers_hmac'))

    op.drop_table('offer_identifiers')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_offers_source'))
        batch_op.drop_index(batch_op.f('ix_offers_first_seen'))

    op.drop_table('offers')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posts_source'))
        batch_op.drop_index(batch_op.f('ix_posts_first_seen'))

    op.drop_table('posts')
    with op.batch_alter_table('captures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_captures_source'))
        batch_op.drop_index(batch_op.f('ix_captures_run_id'))
        batch_op.drop_index(batch_op.f('ix_captures_fetched_at'))
        batch_op.drop_index(batch_op.f('ix_captures_body_sha256'))

    op.drop_table('captures')
    op.drop_table('runs')
    op.drop_table('reveals')
