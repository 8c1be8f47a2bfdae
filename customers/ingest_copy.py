"""The PostgreSQL write path of customers.ingest: one page of copies goes
through COPY into session-local staging tables, then one round trip of
set-based statements (INSERT ... SELECT ... ON CONFLICT) per page.

Same rows as the plain path (customers.ingest), which SQLite uses: the
page's rows are prepared once in Python (deduplicated, content-addressed,
participants unique per copy) and either path writes exactly those. Django's
bulk_create builds a model instance per row and psycopg quotes every array
parameter in Python; COPY streams the rows in psycopg's C encoder instead.

The staging tables are temporary (visible to this connection only), created
on first use per connection and emptied at the end of every page and at
every commit, inside the page's transaction: a page that fails leaves nothing
behind.
"""

from django.db import connection
from django.utils import timezone

from .communications import (
    Event,
    EventCustomer,
    EventHolder,
    EventParticipant,
    Message,
    MessageCustomer,
    MessageHolder,
    MessageParticipant,
)

_M, _MH, _MP, _MC = (model._meta.db_table for model in (Message, MessageHolder, MessageParticipant, MessageCustomer))
_E, _EH, _EP, _EC = (model._meta.db_table for model in (Event, EventHolder, EventParticipant, EventCustomer))

MESSAGE_COPY_COLUMNS = (
    "mailbox", "graph_id", "identity", "is_first", "internet_message_id", "conversation_id", "subject", "from_name",
    "from_address", "sent_at", "received_at", "folder", "direction", "preview", "web_link",
)
EVENT_COPY_COLUMNS = (
    "mailbox", "graph_id", "identity", "is_first", "ical_uid", "subject", "starts_at", "ends_at", "is_all_day",
    "is_cancelled", "location", "organizer_name", "organizer_address", "online_meeting_url", "series_master_id",
    "preview", "web_link",
)
PERSON_COLUMNS = ("mailbox", "graph_id", "role", "address", "name", "response")
LINK_COLUMNS = ("identity", "customer_id", "at")

_TYPES = {"is_first": "boolean", "is_all_day": "boolean", "is_cancelled": "boolean", "sent_at": "timestamptz",
          "received_at": "timestamptz", "starts_at": "timestamptz", "ends_at": "timestamptz", "at": "timestamptz",
          "customer_id": "bigint"}


def _create(name, columns):
    body = ", ".join(f"{column} {_TYPES.get(column, 'text')}" for column in columns)
    return f"CREATE TEMP TABLE IF NOT EXISTS {name} ({body}) ON COMMIT DELETE ROWS"


STAGING = ";\n".join([
    _create("ingest_message_copy", MESSAGE_COPY_COLUMNS),
    _create("ingest_event_copy", EVENT_COPY_COLUMNS),
    _create("ingest_person", PERSON_COLUMNS),
    _create("ingest_link", LINK_COLUMNS),
])

# Emptied at once (a test runs many pages in one transaction) and again at
# commit (ON COMMIT DELETE ROWS), which also drops the dead rows the DELETE
# leaves: a temporary table is never vacuumed, and without that they would
# pile up and spill out of temp_buffers. Not TRUNCATE: it costs a new file
# each time (8 ms a page, measured).
_EMPTY = "DELETE FROM {copy}; DELETE FROM ingest_person; DELETE FROM ingest_link"


def _one(table, column, where):
    """A lateral probe of one row by a unique key. LIMIT 1 keeps the planner from
    turning it into a hash join over the whole table: a page is 1,000 index
    probes whatever the table's size (and however stale its statistics)."""
    return f"CROSS JOIN LATERAL (SELECT {column} FROM {table} WHERE {where} LIMIT 1)"


def _write_sql(*, copy, item, holder, participant, link, item_column, item_insert, holder_columns, holder_update,
               person_columns, link_time):
    """One round trip after the COPYs; statements run in order. First the
    copies' earlier items are returned and those copies' old participants
    deleted, then items, holders (returning ids for their participants) and links.
    Participants need no ON CONFLICT: each copy's are unique (prepared so) and
    its old ones are gone."""
    holder_select = ", ".join(f"c.{column}" for column in holder_columns)
    person_select = ", ".join(f"p.{column}" for column in person_columns)
    return f"""
WITH earlier AS (
  SELECT h.id, c.mailbox, c.graph_id, h.{item_column} FROM {copy} c
  {_one(holder, f"id, {item_column}", "mailbox = c.mailbox AND graph_id = c.graph_id")} h
), cleared AS (
  DELETE FROM {participant} WHERE holder_id IN (SELECT id FROM earlier)
)
SELECT mailbox, graph_id, {item_column} FROM earlier;
{item_insert};
WITH holders AS (
  INSERT INTO {holder} ({item_column}, mailbox, graph_id, {", ".join(holder_columns)})
  SELECT i.id, c.mailbox, c.graph_id, {holder_select} FROM {copy} c {_one(item, "id", "identity = c.identity")} i
  ON CONFLICT (mailbox, graph_id) DO UPDATE SET {item_column} = EXCLUDED.{item_column}, {holder_update}
  RETURNING id, mailbox, graph_id, {item_column}
)
INSERT INTO {participant} (holder_id, {item_column}, {", ".join(person_columns)})
SELECT h.id, h.{item_column}, {person_select}
  FROM ingest_person p JOIN holders h ON h.mailbox = p.mailbox AND h.graph_id = p.graph_id;
INSERT INTO {link} ({item_column}, customer_id, {link_time})
SELECT i.id, l.customer_id, l.at FROM ingest_link l {_one(item, "id", "identity = l.identity")} i
ON CONFLICT DO NOTHING;
{_EMPTY.format(copy=copy)}
"""


MESSAGE_WRITE = _write_sql(
    copy="ingest_message_copy", item=_M, holder=_MH, participant=_MP, link=_MC, item_column="message_id",
    item_insert=f"""INSERT INTO {_M} (identity, internet_message_id, conversation_id, subject, from_name, from_address,
                  sent_at, received_at, updated_at)
SELECT identity, internet_message_id, conversation_id, subject, from_name, from_address, sent_at, received_at, %(now)s
  FROM ingest_message_copy WHERE is_first
ON CONFLICT (identity) DO NOTHING""",
    holder_columns=("folder", "direction", "preview", "web_link"),
    holder_update="folder = EXCLUDED.folder, direction = EXCLUDED.direction, preview = EXCLUDED.preview, "
                  "web_link = EXCLUDED.web_link",
    person_columns=("role", "address", "name"), link_time="received_at",
)

EVENT_WRITE = _write_sql(
    copy="ingest_event_copy", item=_E, holder=_EH, participant=_EP, link=_EC, item_column="event_id",
    item_insert=f"""INSERT INTO {_E} (identity, ical_uid, subject, starts_at, ends_at, is_all_day, is_cancelled, location,
                  organizer_name, organizer_address, online_meeting_url, updated_at)
SELECT identity, ical_uid, subject, starts_at, ends_at, is_all_day, is_cancelled, location, organizer_name,
       organizer_address, online_meeting_url, %(now)s
  FROM ingest_event_copy WHERE is_first
ON CONFLICT (identity) DO NOTHING""",
    holder_columns=("series_master_id", "preview", "web_link"),
    holder_update="series_master_id = EXCLUDED.series_master_id, preview = EXCLUDED.preview, "
                  "web_link = EXCLUDED.web_link",
    person_columns=("role", "address", "name", "response"), link_time="starts_at",
)


def page_write(*, kind, copies, people, links):
    """Write one prepared page (kind "message" or "event"); returns
    (mailbox, graph id) -> the message/event id each copy held before."""
    copy_table, columns, write = {
        "message": ("ingest_message_copy", MESSAGE_COPY_COLUMNS, MESSAGE_WRITE),
        "event": ("ingest_event_copy", EVENT_COPY_COLUMNS, EVENT_WRITE),
    }[kind]
    with connection.cursor() as cursor:
        cursor.execute(STAGING)
        raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no COPY
        _copy_rows(raw, copy_table, columns, copies)
        _copy_rows(raw, "ingest_person", PERSON_COLUMNS, people)
        _copy_rows(raw, "ingest_link", LINK_COLUMNS, links)
        # Several statements in one round trip (Django's psycopg cursor binds on
        # the client); the time is the app's clock, like auto_now on SQLite.
        cursor.execute(write, {"now": timezone.now()})
        # The first statement's rows: the message/event each copy held before.
        return {(mailbox, graph_id): target for mailbox, graph_id, target in cursor.fetchall()}


def holds(*, kind, copies):
    """(mailbox, graph id) -> the message/event id each of these copies holds now."""
    holder, target = (_MH, "message_id") if kind == "message" else (_EH, "event_id")
    now = {}
    with connection.cursor() as cursor:
        for mailbox, graph_ids in _by_mailbox(copies).items():
            cursor.execute(f"SELECT graph_id, {target} FROM {holder} WHERE mailbox = %s AND graph_id = ANY(%s)",
                           [mailbox, graph_ids])
            now.update(((mailbox, graph_id), item_id) for graph_id, item_id in cursor.fetchall())
    return now


def _by_mailbox(copies):
    out = {}
    for mailbox, graph_id in copies:
        out.setdefault(mailbox, []).append(graph_id)
    return out


def _copy_rows(raw_cursor, table, columns, rows):
    if not rows:
        return
    with raw_cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
