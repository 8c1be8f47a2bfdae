"""The PostgreSQL write path of customers.ingest: one page of copies goes
through COPY into session-local staging tables, then one round trip of
set-based statements (INSERT ... SELECT ... ON CONFLICT) per page.

Same rows as the plain path (customers.ingest), which SQLite uses: the
page's rows are prepared once in Python (deduplicated, content-addressed,
participants unique per copy) and either path writes exactly those. Django's
bulk_create builds a model instance per row and psycopg quotes every array
parameter in Python; COPY streams the rows in psycopg's C encoder instead.

The staging tables are temporary (visible to this connection only), created
on first use per connection and emptied at the end of every page, inside the
page's transaction: a page that fails leaves nothing behind.
"""

from django.db import connection

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
    return f"CREATE TEMP TABLE IF NOT EXISTS {name} ({body})"


STAGING = ";\n".join([
    _create("ingest_message_copy", MESSAGE_COPY_COLUMNS),
    _create("ingest_event_copy", EVENT_COPY_COLUMNS),
    _create("ingest_person", PERSON_COLUMNS),
    _create("ingest_link", LINK_COLUMNS),
])

_EARLIER = "SELECT c.mailbox, c.graph_id, h.{target} FROM {copy} c JOIN {holder} h ON h.mailbox = c.mailbox AND h.graph_id = c.graph_id"
_EMPTY = "DELETE FROM {copy}; DELETE FROM ingest_person; DELETE FROM ingest_link"

# One round trip after the COPYs. Statements run in order: the copies each
# holder pointed at before this page are read first; the copies' old
# participants go before their new ones come in.
MESSAGE_WRITE = f"""
{_EARLIER.format(target="message_id", copy="ingest_message_copy", holder=_MH)};
DELETE FROM {_MP} p USING ingest_message_copy c, {_MH} h
 WHERE h.mailbox = c.mailbox AND h.graph_id = c.graph_id AND p.holder_id = h.id;
INSERT INTO {_M} (identity, internet_message_id, conversation_id, subject, from_name, from_address, sent_at,
                  received_at, updated_at)
SELECT identity, internet_message_id, conversation_id, subject, from_name, from_address, sent_at, received_at, now()
  FROM ingest_message_copy WHERE is_first
ON CONFLICT (identity) DO NOTHING;
INSERT INTO {_MH} (message_id, mailbox, graph_id, folder, direction, preview, web_link)
SELECT m.id, c.mailbox, c.graph_id, c.folder, c.direction, c.preview, c.web_link
  FROM ingest_message_copy c JOIN {_M} m ON m.identity = c.identity
ON CONFLICT (mailbox, graph_id) DO UPDATE SET message_id = EXCLUDED.message_id, folder = EXCLUDED.folder,
  direction = EXCLUDED.direction, preview = EXCLUDED.preview, web_link = EXCLUDED.web_link;
INSERT INTO {_MP} (holder_id, message_id, role, address, name)
SELECT h.id, h.message_id, p.role, p.address, p.name
  FROM ingest_person p JOIN {_MH} h ON h.mailbox = p.mailbox AND h.graph_id = p.graph_id
ON CONFLICT DO NOTHING;
INSERT INTO {_MC} (message_id, customer_id, received_at)
SELECT m.id, l.customer_id, l.at FROM ingest_link l JOIN {_M} m ON m.identity = l.identity
ON CONFLICT DO NOTHING;
{_EMPTY.format(copy="ingest_message_copy")}
"""

EVENT_WRITE = f"""
{_EARLIER.format(target="event_id", copy="ingest_event_copy", holder=_EH)};
DELETE FROM {_EP} p USING ingest_event_copy c, {_EH} h
 WHERE h.mailbox = c.mailbox AND h.graph_id = c.graph_id AND p.holder_id = h.id;
INSERT INTO {_E} (identity, ical_uid, subject, starts_at, ends_at, is_all_day, is_cancelled, location,
                  organizer_name, organizer_address, online_meeting_url, updated_at)
SELECT identity, ical_uid, subject, starts_at, ends_at, is_all_day, is_cancelled, location, organizer_name,
       organizer_address, online_meeting_url, now()
  FROM ingest_event_copy WHERE is_first
ON CONFLICT (identity) DO NOTHING;
INSERT INTO {_EH} (event_id, mailbox, graph_id, series_master_id, preview, web_link)
SELECT e.id, c.mailbox, c.graph_id, c.series_master_id, c.preview, c.web_link
  FROM ingest_event_copy c JOIN {_E} e ON e.identity = c.identity
ON CONFLICT (mailbox, graph_id) DO UPDATE SET event_id = EXCLUDED.event_id,
  series_master_id = EXCLUDED.series_master_id, preview = EXCLUDED.preview, web_link = EXCLUDED.web_link;
INSERT INTO {_EP} (holder_id, event_id, role, address, name, response)
SELECT h.id, h.event_id, p.role, p.address, p.name, p.response
  FROM ingest_person p JOIN {_EH} h ON h.mailbox = p.mailbox AND h.graph_id = p.graph_id
ON CONFLICT DO NOTHING;
INSERT INTO {_EC} (event_id, customer_id, starts_at)
SELECT e.id, l.customer_id, l.at FROM ingest_link l JOIN {_E} e ON e.identity = l.identity
ON CONFLICT DO NOTHING;
{_EMPTY.format(copy="ingest_event_copy")}
"""


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
        cursor.execute(write)  # several statements, no parameters: one round trip
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
