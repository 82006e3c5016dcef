"""analyst schema: comments, jsonb, views offer_overview and source_activity, posts.latest_capture_id, UTC text

For an analyst who opens the database in Datasette or psql: a comment on every table and column (PostgreSQL),
jsonb for JSON columns (PostgreSQL), two views, posts.capture_id renamed to what it is (the latest capture),
and SQLite times stored as ISO 8601 that says it is UTC (`2026-12-04T10:00:00.000000+00:00`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TIMES = {
    'runs': ['started_at', 'ended_at'], 'captures': ['fetched_at'], 'posts': ['posted_at', 'first_seen', 'last_seen'],
    'offers': ['first_seen', 'last_seen'], 'reveals': ['at'], 'watchlist': ['added_at'], 'alert_scans': ['scanned_at'],
    'guard_stops': ['at'], 'alerts': ['created_at'], 'alert_deliveries': ['last_attempt_at', 'delivered_at'],
    'operation_locks': ['acquired_at'], 'custody_events': ['at'], 'custody_checkpoints': ['at'],
}
JSONS = {
    'runs': ['stats'], 'captures': ['headers'], 'posts': ['extra'], 'offers': ['categories', 'prices', 'contacts'],
    'reveals': ['offer_ids'], 'alerts': ['payload'], 'custody_events': ['details'], 'custody_checkpoints': ['peaks'],
}

# Each table's comment and its columns', as the models say them at this revision (PostgreSQL only: SQLite
# keeps no comments).
COMMENTS = {
    'alert_deliveries': (
        'One alert over one channel: queued until `delivered_at` is set.',
        {
            'alert_id': 'The alert',
            'channel': "The channel's name in the alerts file",
            'attempts': 'How many times sending was tried',
            'last_attempt_at': 'When it was last tried (UTC)',
            'last_error': 'Why the last try failed',
            'delivered_at': 'When it was delivered (UTC); empty while queued',
        }),
    'alert_scans': (
        'An ended run whose offers have been checked against the alert rules and the watchlist.',
        {
            'run_id': 'The run checked',
            'scanned_at': 'When it was checked (UTC)',
        }),
    'alerts': (
        'A new offer matching a rule (`reason` "rule:NAME"), a watched identifier\'s sighting ("watch:ID"), or'
        ' a source that needs a human (`reason` "guard:SOURCE", no offer).',
        {
            'run_id': 'The run that raised it',
            'offer_id': "The offer; empty for a source's alert",
            'reason': 'rule:NAME, watch:ID or guard:SOURCE',
            'created_at': 'When it was raised (UTC)',
            'payload': 'What the channels are sent (JSON, masked)',
        }),
    'apscheduler_jobs': (
        "APScheduler's stored schedules (nigran schedule)",
        {
            'id': "The schedule's job id",
            'next_run_time': 'When it runs next (Unix time, UTC)',
            'job_state': "APScheduler's pickled job",
        }),
    'capture_artifacts': (
        'A browser artefact (screenshot, rendered DOM), itself a capture, tied to the page capture it shows.',
        {
            'capture_id': "The artefact's capture",
            'page_capture_id': 'The page capture it shows',
            'role': 'screenshot or dom',
        }),
    'captures': (
        'One HTTP response (or browser artefact) exactly as received. Rows are never updated or deleted.',
        {
            'run_id': 'The run that fetched it',
            'source': "The source's name in the sources file",
            'kind': 'http, or a browser artefact: dom, screenshot',
            'url': 'The URL asked for',
            'final_url': 'The URL that answered, after redirects',
            'method': 'The HTTP method',
            'status': 'The HTTP status',
            'headers': 'Response headers as [name, value] pairs, secrets removed',
            'body_sha256': "SHA-256 of the body (hex); the body store's key",
            'body_size': "The body's size in bytes",
            'fetched_at': 'When the response arrived (UTC)',
            'transport': 'How it came: tor or direct',
            'circuit_id': 'The Tor circuit it came over',
            'exit_fingerprint': "That circuit's exit relay",
            'warc_file': 'The WARC file holding the record',
            'warc_record_id': 'The WARC-Record-ID of the response',
            'warc_offset': "The record's byte offset in that file",
        }),
    'custody_checkpoints': (
        'A signed RFC 6962 tree head over the first `tree_size` custody events.',
        {
            'at': 'When it was signed (UTC)',
            'tree_size': 'How many events it covers',
            'root': "The Merkle tree's root hash",
            'head_hash': 'The hash of the last event it covers',
            'peaks': 'Merkle state to resume from: [[height, hex], ...] (JSON)',
            'public_key': 'The minisign key that signed it',
            'signature': 'The minisign signature',
        }),
    'custody_events': (
        'One entry of the append-only, hash-chained custody log (see storage.evidence.custody).',
        {
            'seq': 'Its place in the log, from 1',
            'at': 'When (UTC)',
            'kind': 'capture stored, export made, identifier revealed, source config changed',
            'operator': 'Who (user@host)',
            'capture_id': 'The capture it is about',
            'details': 'What happened (JSON), as hashed',
            'prev_hash': "The previous event's hash (zeros for the first)",
            'hash': "SHA-256 of the event's canonical JSON",
        }),
    'custody_head': (
        "The log's newest entry (one row, id 1): appenders lock it, so the chain stays linear.",
        {
            'seq': "The newest event's seq",
            'hash': "The newest event's hash",
        }),
    'guard_stops': (
        'A source a run stopped at a page it could not pass (crawler/guard.py); the page is a capture.',
        {
            'run_id': 'The run that stopped',
            'source': "The source's name",
            'status': 'login_wall, session_expired, login_failed, no_session, captcha, queue, challenge or seized',
            'reason': 'What the page showed, in words',
            'url': "The page's URL",
            'capture_id': 'The page, as captured',
            'next_step': 'The command that gets past it',
            'at': 'When (UTC)',
        }),
    'offer_identifiers': (
        'A personal identifier seen in an offer: keyed HMAC and masked form, never the raw value.',
        {
            'offer_id': 'The offer it was seen in',
            'position': 'Its order of appearance in the offer',
            'type': 'cnic, pk_mobile, passport...',
            'hmac': 'Keyed HMAC-SHA256 of the value: equal values match across offers',
            'masked': "The value masked (a CNIC's locality digits stay)",
        }),
    'offers': (
        'What a post offers or asks for; identifiers live only as keyed hashes beside it.',
        {
            'post_id': 'The post it is in',
            'source': "The source's name",
            'kind': 'offer (sells data) or request (asks for it)',
            'categories': 'Data categories found (JSON list): cnic, sim...',
            'prices': 'Prices found (JSON list of amount and currency)',
            'contacts': "The seller's contacts (JSON list); phone numbers masked and keyed-hashed",
            'volume': 'How many records it claims',
            'first_seen': 'When nigran first saw it (UTC)',
            'last_seen': 'When nigran last saw it (UTC)',
            'sightings': 'How many times it was seen',
        }),
    'operation_locks': (
        'Who holds an operation lock (sweep, scheduler) and since when; the lock itself is held elsewhere.',
        {
            'name': 'The operation: sweep, scheduler',
            'holder': 'The host and process holding it',
            'acquired_at': 'Since when (UTC)',
        }),
    'posts': (
        'A post, listing, reply, paste or message, keyed stably within its source; identifiers in its text '
        'are masked.',
        {
            'source': "The source's name",
            'post_key': 'Its stable key within the source',
            'url': 'Its permalink, as last seen',
            'title': 'Its title, identifiers masked',
            'author': "Its author's name, identifiers masked",
            'posted_at': 'When the page says it was posted (UTC)',
            'text': 'Its text as last seen, identifiers masked',
            'extra': 'Other fields the spider read (JSON), identifiers masked',
            'first_seen': 'When nigran first saw it (UTC)',
            'last_seen': 'When nigran last saw it (UTC)',
            'sightings': 'How many times it was seen',
            'first_capture_id': 'The capture it was first seen in',
            'latest_capture_id': 'The capture it was last seen in',
        }),
    'reveals': (
        'Audit: somebody asked to see raw identifiers.',
        {
            'at': 'When (UTC)',
            'operator': 'Who, as they typed it (free text)',
            'os_user': 'Who was logged in (empty before migration 0005)',
            'host': 'On which host',
            'offer_ids': 'The offers revealed (JSON list of ids)',
        }),
    'runs': (
        'One crawl run: manual, scheduled or sweep, with the process that runs it (storage/runs.py).',
        {
            'trigger': 'What started it: manual, scheduled, sweep, demo...',
            'started_at': 'When it started (UTC)',
            'ended_at': 'When it ended (UTC); empty while running',
            'status': 'running, finished, failed or interrupted',
            'exit_code': "The crawl process's exit code",
            'stats': 'Totals and a report per source (JSON)',
            'host': 'The host that ran it',
            'pid': 'The process id that ran it on that host',
            'process_key': "That process's boot and start time (<boot id>:<start ticks>): tells a reused pid apart",
        }),
    'watchlist': (
        'A watched identifier: keyed HMAC, masked form and a label; never the raw value.',
        {
            'type': 'cnic, pk_mobile, passport...',
            'hmac': 'Keyed HMAC-SHA256 of the value',
            'masked': 'The value masked',
            'label': 'Whose it is, as the analyst named it',
            'added_at': 'When it was added (UTC)',
        }),
}

# Offers as an analyst reads them: where, what, when; identifiers only in their masked form.
OFFER_OVERVIEW = """
CREATE VIEW offer_overview AS
SELECT o.id AS offer_id, o.source, o.kind, p.url, p.title, substr(p.text, 1, 300) AS excerpt,
       {categories} AS categories, {identifiers} AS identifiers_masked,
       o.volume, o.sightings, o.first_seen, o.last_seen, c.body_sha256 AS capture_sha256, p.latest_capture_id
FROM offers o JOIN posts p ON p.id = o.post_id JOIN captures c ON c.id = p.latest_capture_id
"""
LISTS = {
    'sqlite': {
        'categories': "(SELECT group_concat(value, ', ') FROM json_each(o.categories))",
        'identifiers': "(SELECT group_concat(masked, ', ') FROM "
                       "(SELECT masked FROM offer_identifiers WHERE offer_id = o.id ORDER BY position))",
    },
    'postgresql': {
        'categories': "(SELECT string_agg(value, ', ' ORDER BY n) "
                      "FROM jsonb_array_elements_text(o.categories) WITH ORDINALITY AS e(value, n))",
        'identifiers': "(SELECT string_agg(masked, ', ' ORDER BY position) "
                       "FROM offer_identifiers WHERE offer_id = o.id)",
    },
}
# Per source: what is stored, when it was last captured, and how its last run and its last stop went.
SOURCE_ACTIVITY = """
CREATE VIEW source_activity AS
WITH caps AS (SELECT source, count(*) AS captures, max(fetched_at) AS last_capture_at, max(run_id) AS last_run_id
              FROM captures GROUP BY source),
     post_counts AS (SELECT source, count(*) AS posts FROM posts GROUP BY source),
     offer_counts AS (SELECT source, count(*) AS offers FROM offers GROUP BY source)
SELECT caps.source, coalesce(post_counts.posts, 0) AS posts, coalesce(offer_counts.offers, 0) AS offers,
       caps.captures, caps.last_capture_at, caps.last_run_id, runs.status AS last_run_status,
       (SELECT g.status FROM guard_stops g WHERE g.source = caps.source ORDER BY g.id DESC LIMIT 1) AS last_stop
FROM caps
LEFT JOIN post_counts ON post_counts.source = caps.source
LEFT JOIN offer_counts ON offer_counts.source = caps.source
LEFT JOIN runs ON runs.id = caps.last_run_id
"""


def _sqlite_times(convert: str) -> None:
    for table, columns in TIMES.items():
        for column in columns:
            op.execute(convert.format(t=table, c=column))


# SQLAlchemy wrote naive UTC, `2026-12-04 10:00:00.123456` (SQL's CURRENT_TIMESTAMP: no fraction): fixed-width
# ISO 8601 with the zone, fraction padded to six digits, so that the text still sorts as the time does.
TO_ISO = """UPDATE {t} SET {c} = replace(CASE WHEN instr({c}, '.') = 0 THEN {c} || '.000000'
                                             ELSE substr({c} || '000000', 1, 26) END, ' ', 'T') || '+00:00'
            WHERE {c} IS NOT NULL AND {c} NOT LIKE '%+00:00'"""
TO_NAIVE = "UPDATE {t} SET {c} = replace(substr({c}, 1, 26), 'T', ' ') WHERE {c} LIKE '%+00:00'"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        _sqlite_times(TO_ISO)
        op.execute('ALTER TABLE posts RENAME COLUMN capture_id TO latest_capture_id')  # in place, no table copy
    else:
        op.alter_column('posts', 'capture_id', new_column_name='latest_capture_id')
        op.execute('ALTER TABLE posts RENAME CONSTRAINT fk_posts_capture_id_captures '
                   'TO fk_posts_latest_capture_id_captures')
        for table, columns in JSONS.items():
            for column in columns:
                op.alter_column(table, column, type_=postgresql.JSONB(), existing_type=sa.JSON(),
                                postgresql_using=f'{column}::jsonb')
        for table, (comment, columns) in COMMENTS.items():
            op.create_table_comment(table, comment)
            for column, text in columns.items():
                op.alter_column(table, column, comment=text)
    op.execute(OFFER_OVERVIEW.format(**LISTS[dialect]))
    op.execute(SOURCE_ACTIVITY)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute('DROP VIEW source_activity')
    op.execute('DROP VIEW offer_overview')
    if dialect == 'sqlite':
        op.execute('ALTER TABLE posts RENAME COLUMN latest_capture_id TO capture_id')
        _sqlite_times(TO_NAIVE)
    else:
        for table, (_, columns) in COMMENTS.items():
            op.drop_table_comment(table)
            for column in columns:
                op.alter_column(table, column, comment=None)
        for table, columns in JSONS.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.JSON(), existing_type=postgresql.JSONB(),
                                postgresql_using=f'{column}::json')
        op.execute('ALTER TABLE posts RENAME CONSTRAINT fk_posts_latest_capture_id_captures '
                   'TO fk_posts_capture_id_captures')
        op.alter_column('posts', 'latest_capture_id', new_column_name='capture_id')
