"""privacy: OS user and host in the reveal audit; stored masks re-masked to the narrower policy

Masks made before this revision kept a CNIC's last digit, a mobile's last two and a passport's last
two. Those trailing digits are masked now, in post text, title, author and every
string of `extra`, in identifier and watchlist masks and in masked contacts. Downgrading drops the
audit columns; the narrower masks stay (the digits they hid are not stored anywhere to put back).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The end of a mask as the old policy wrote it: a run of four '*' or more (separators between them),
# then the one or two digits it kept.
_OLD_TAIL = re.compile(r"(\*(?:[ \-.]?\*)*)([ \-.]?)(\d{1,2})(?!\d)")
PHONE_KINDS = ("pk_mobile", "whatsapp")
BATCH = 500


def _mask_tail(m: re.Match) -> str:
    stars, sep, tail = m.groups()
    return m.group() if stars.count("*") < 4 else stars + sep + "*" * len(tail)


def remask(text):
    """Strings (through dicts and lists) with the digits an old mask kept at its end masked too."""
    if isinstance(text, str):
        return _OLD_TAIL.sub(_mask_tail, text)
    if isinstance(text, dict):
        return {remask(k): remask(v) for k, v in text.items()}
    if isinstance(text, list):
        return [remask(v) for v in text]
    return text


def remask_value(kind: str, masked: str) -> str:
    """A stored identifier mask in the new form (a Pakistani mobile shown nationally: 0301-*******)."""
    new = remask(masked)
    if kind in PHONE_KINDS and new.startswith("+92") and len(new) == 13:
        new = f"0{new[3:6]}-{new[6:]}"
    return new


posts = sa.table('posts', sa.column('id', sa.Integer), sa.column('title', sa.Text), sa.column('author', sa.Text),
                 sa.column('text', sa.Text), sa.column('extra', sa.JSON))
offers = sa.table('offers', sa.column('id', sa.Integer), sa.column('contacts', sa.JSON))
identifiers = sa.table('offer_identifiers', sa.column('id', sa.Integer), sa.column('type', sa.String),
                       sa.column('masked', sa.String))
watchlist = sa.table('watchlist', sa.column('id', sa.Integer), sa.column('type', sa.String),
                     sa.column('masked', sa.String))


def _rewrite(conn, table, columns, change) -> None:
    """Update each row of `table` whose `columns` `change` alters, reading in batches by id."""
    last = 0
    while True:
        rows = conn.execute(sa.select(table.c.id, *[table.c[c] for c in columns]).where(table.c.id > last)
                            .order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row_id, *values in rows:
            old = dict(zip(columns, values))
            new = change(old)
            if new != old:
                conn.execute(sa.update(table).where(table.c.id == row_id).values(**new))
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table('reveals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('os_user', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))

    conn = op.get_bind()
    _rewrite(conn, posts, ['title', 'author', 'text', 'extra'],
             lambda r: {c: remask(v) for c, v in r.items()})
    _rewrite(conn, offers, ['contacts'],
             lambda r: {'contacts': [{**c, 'value': remask_value(c['type'], c['value'])} if 'hmac' in c else c
                                     for c in r['contacts']] if r['contacts'] else r['contacts']})
    _rewrite(conn, identifiers, ['type', 'masked'],
             lambda r: {'type': r['type'], 'masked': remask_value(r['type'], r['masked'])})
    _rewrite(conn, watchlist, ['type', 'masked'],
             lambda r: {'type': r['type'], 'masked': remask_value(r['type'], r['masked'])})


def downgrade() -> None:
    with op.batch_alter_table('reveals', schema=None) as batch_op:
        batch_op.drop_column('host')
        batch_op.drop_column('os_user')
