"""The write side of communications: bulk upserts of one page of already
filtered records, and the deletes that keep holders and rows in step.

The sync jobs (integrations) run the customer-domain filter first and hand
over only what is kept, as the plain rows below; nothing here knows Graph.
Every function works on a whole page with a fixed handful of queries (never
one per item) and is idempotent: replaying a page changes nothing.
"""

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from . import ingest_copy
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
from .models import OwnDomain

# Keeps IN (...) lists below every backend's bound parameter limit.
CHUNK = 500
# Databases whose pages go through COPY and set-based upserts (ingest_copy);
# the others through bulk_create. Both write the same rows.
COPY_VENDORS = ("postgresql",)


# ------------------------------------------------------------------ what "a customer" is, once per run


def own_domains():
    return frozenset(OwnDomain.objects.values_list("domain", flat=True))


# ------------------------------------------------------------------ rows handed over by the sync


@dataclass
class MessageRow:
    mailbox: str
    graph_id: str
    folder: str
    internet_message_id: str
    received_at: datetime
    direction: str
    conversation_id: str = ""
    subject: str = ""
    preview: str = ""
    from_name: str = ""
    from_address: str = ""
    sent_at: datetime | None = None
    web_link: str = ""
    participants: list = field(default_factory=list)  # (role, address, name)
    customer_ids: frozenset = frozenset()


@dataclass
class EventRow:
    mailbox: str
    graph_id: str
    ical_uid: str
    starts_at: datetime
    ends_at: datetime
    subject: str = ""
    preview: str = ""
    is_all_day: bool = False
    is_cancelled: bool = False
    location: str = ""
    organizer_name: str = ""
    organizer_address: str = ""
    online_meeting_url: str = ""
    series_master_id: str = ""
    web_link: str = ""
    participants: list = field(default_factory=list)  # (role, address, name, response)
    customer_ids: frozenset = frozenset()


def message_identity(row):
    """The key copies merge on: the sender-chosen id plus everything the
    Message row shows, so a copy that reuses a Message-ID but differs in
    sender, sent time, subject or conversation is another message, never an
    update of this one."""
    sent = row.sent_at.isoformat() if row.sent_at else ""
    return _identity(row.internet_message_id, row.from_address, row.from_name, sent, row.subject, row.conversation_id)


def event_identity(row):
    """Likewise for events: the uid plus the organizer and everything the hub shows."""
    return _identity(row.ical_uid, row.organizer_address, row.starts_at.isoformat(), row.ends_at.isoformat(),
                     row.subject, row.location, row.online_meeting_url, row.is_all_day, row.is_cancelled)


def _identity(*parts):
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode()).hexdigest()


# ------------------------------------------------------------------ messages


def messages_upsert(*, rows, matcher):
    """Write one page of kept messages with a fixed number of queries whatever
    the page size (a few more when copies synced before changed).

    Messages are content-addressed (message_identity), so an existing one is
    never updated, only linked to; each copy (holder) carries its own
    participants, preview and direction, replaced whenever Graph sends it again.
    PostgreSQL writes through COPY and set-based upserts (ingest_copy); other
    databases through bulk_create. Both write the rows prepared here."""
    if not rows:
        return 0
    page = _message_page(rows)
    if connection.vendor in COPY_VENDORS:
        earlier = ingest_copy.page_write(kind="message", copies=page.copies, people=page.people, links=page.links)
        now_holds = ingest_copy.holds(kind="message", copies=page.keys()) if earlier else {}
    else:
        earlier, now_holds = _messages_write_plain(page)
    moved = {message_id for copy, message_id in earlier.items() if now_holds[copy] != message_id}
    if moved:  # a copy Graph sent again with another subject (a draft, an edit): its old message may be orphaned
        messages_delete_orphans(message_ids=moved)
    if earlier:  # copies synced before may have lost a customer since: links follow what the copies say now
        links_refresh(MessageCustomer, MessageParticipant, "message_id", set(earlier.values()) | set(now_holds.values()),
                      matcher.customer_for_address)
    return len(page.copies)


@dataclass
class _Page:
    """One page ready to write, as rows in ingest_copy's column order: copies
    (the first copy of each identity carries the message's own fields),
    people (each copy's participants, one per role and address) and links."""

    copies: list
    people: list
    links: list

    def keys(self):
        return [(copy[0], copy[1]) for copy in self.copies]

    def copy_dicts(self, columns):
        return [dict(zip(columns, copy, strict=True)) for copy in self.copies]


def _message_page(rows):
    rows = list({(row.mailbox, row.graph_id): row for row in rows}.values())  # the last copy of a replayed item wins
    copies, people, links, first = [], [], {}, {}
    for row in rows:
        key = message_identity(row)
        is_first = key not in first
        message = first.setdefault(key, row)
        copies.append((row.mailbox, row.graph_id, key, is_first, row.internet_message_id, row.conversation_id,
                       row.subject, row.from_name, row.from_address, row.sent_at, row.received_at, row.folder,
                       row.direction, row.preview, row.web_link))
        unique = {}
        for role, address, name in row.participants:  # sorted: the first name of a repeated address wins
            unique.setdefault((role, address), name)
        people += [(row.mailbox, row.graph_id, role, address, name, "") for (role, address), name in unique.items()]
        for customer_id in row.customer_ids:
            links.setdefault((key, customer_id), message.received_at)
    return _Page(copies=copies, people=people, links=[(key, customer, at) for (key, customer), at in links.items()])


def _messages_write_plain(page):
    """bulk_create of the prepared page; returns (copies' earlier message ids, their ids now)."""
    copies = page.copy_dicts(ingest_copy.MESSAGE_COPY_COLUMNS)
    earlier = _held_by(MessageHolder, "message_id", page.keys())
    Message.objects.bulk_create([
        Message(identity=c["identity"], internet_message_id=c["internet_message_id"], conversation_id=c["conversation_id"],
                subject=c["subject"], from_name=c["from_name"], from_address=c["from_address"], sent_at=c["sent_at"],
                received_at=c["received_at"])
        for c in copies if c["is_first"]
    ], ignore_conflicts=True)
    ids = _ids_by_key(Message, "identity", [c["identity"] for c in copies if c["is_first"]])
    holders = [
        MessageHolder(message_id=ids[c["identity"]], mailbox=c["mailbox"], graph_id=c["graph_id"], folder=c["folder"],
                      direction=c["direction"], preview=c["preview"], web_link=c["web_link"])
        for c in copies
    ]
    holder_ids = _holders_upsert(MessageHolder, holders, ["message", "folder", "direction", "preview", "web_link"])
    _delete_where(MessageParticipant, "holder_id", holder_ids.values())
    now_holds = {(c["mailbox"], c["graph_id"]): ids[c["identity"]] for c in copies}
    MessageParticipant.objects.bulk_create([
        MessageParticipant(holder_id=holder_ids[(mailbox, graph_id)], message_id=now_holds[(mailbox, graph_id)],
                           role=role, address=address, name=name)
        for mailbox, graph_id, role, address, name, _ in page.people
    ], ignore_conflicts=True)
    MessageCustomer.objects.bulk_create([
        MessageCustomer(message_id=ids[key], customer_id=customer_id, received_at=at) for key, customer_id, at in page.links
    ], ignore_conflicts=True)
    return earlier, now_holds


def message_holders_remove(*, mailbox, graph_ids):
    """@removed (or a copy that no longer touches a customer): drop this
    mailbox's holders, then every message left without any holder."""
    graph_ids = list(set(graph_ids))
    if not graph_ids:
        return 0
    found = []
    for chunk in _chunks(graph_ids):
        found += MessageHolder.objects.filter(mailbox=mailbox, graph_id__in=chunk).values_list("id", "message_id")
    if not found:
        return 0
    _delete_ids(MessageHolder, [holder_id for holder_id, _ in found])
    messages_delete_orphans(message_ids={message_id for _, message_id in found})
    return len(found)


def message_holders_sweep(*, mailbox, folder, since, keep_graph_ids):
    """After a complete from-scratch round of a folder: this mailbox's holders
    in the look-back that Graph no longer returned (deleted while the delta
    state was lost, or no longer touching a customer) go."""
    held = MessageHolder.objects.filter(mailbox=mailbox, folder=folder, message__received_at__gte=since)
    # Streamed: a big mailbox's holders are never all in memory at once.
    gone = [graph_id for graph_id in held.values_list("graph_id", flat=True).iterator(chunk_size=5000)
            if graph_id not in keep_graph_ids]
    return message_holders_remove(mailbox=mailbox, graph_ids=gone)


def messages_delete_orphans(*, message_ids=None):
    """Delete the given messages (or all, when None) that no mailbox holds any more."""
    orphans = Message.objects.filter(holders__isnull=True)
    if message_ids is None:
        return _delete_ids(Message, list(orphans.values_list("id", flat=True)))
    doomed = []
    for chunk in _chunks(list(message_ids)):
        doomed += orphans.filter(id__in=chunk).values_list("id", flat=True)
    return _delete_ids(Message, doomed)


# ------------------------------------------------------------------ events


def events_upsert(*, rows, matcher):
    """Write one page of kept events with a fixed number of queries whatever
    the page size (a few more when copies synced before changed).

    Events are content-addressed (event_identity): when an organizer moves or
    renames a meeting, each copy moves to the new event as Graph sends it,
    and the old one goes once no copy holds it. Attendees and responses are
    the copy's own and replaced on every sync of that copy."""
    if not rows:
        return 0
    page = _event_page(rows)
    if connection.vendor in COPY_VENDORS:
        earlier = ingest_copy.page_write(kind="event", copies=page.copies, people=page.people, links=page.links)
        now_holds = ingest_copy.holds(kind="event", copies=page.keys()) if earlier else {}
    else:
        earlier, now_holds = _events_write_plain(page)
    moved = {event_id for copy, event_id in earlier.items() if now_holds[copy] != event_id}
    if moved:
        events_delete_orphans(event_ids=moved)
    if earlier:  # an organizer may have dropped the customer's attendees since the last read
        links_refresh(EventCustomer, EventParticipant, "event_id", set(earlier.values()) | set(now_holds.values()),
                      matcher.customer_for_attendee)
    return len(page.copies)


def _event_page(rows):
    rows = list({(row.mailbox, row.graph_id): row for row in rows}.values())
    copies, people, links, first = [], [], {}, set()
    for row in rows:
        key = event_identity(row)
        is_first = key not in first
        first.add(key)
        copies.append((row.mailbox, row.graph_id, key, is_first, row.ical_uid, row.subject, row.starts_at, row.ends_at,
                       row.is_all_day, row.is_cancelled, row.location, row.organizer_name, row.organizer_address,
                       row.online_meeting_url, row.series_master_id, row.preview, row.web_link))
        unique = {(role, address): (name, response) for role, address, name, response in row.participants}
        people += [(row.mailbox, row.graph_id, role, address, name, response)
                   for (role, address), (name, response) in unique.items()]
        for customer_id in row.customer_ids:
            links.setdefault((key, customer_id), row.starts_at)
    return _Page(copies=copies, people=people, links=[(key, customer, at) for (key, customer), at in links.items()])


def _events_write_plain(page):
    copies = page.copy_dicts(ingest_copy.EVENT_COPY_COLUMNS)
    earlier = _held_by(EventHolder, "event_id", page.keys())
    event_fields = ("identity", "ical_uid", "subject", "starts_at", "ends_at", "is_all_day", "is_cancelled", "location",
                    "organizer_name", "organizer_address", "online_meeting_url")
    Event.objects.bulk_create([Event(**{f: c[f] for f in event_fields}) for c in copies if c["is_first"]],
                              ignore_conflicts=True)
    ids = _ids_by_key(Event, "identity", [c["identity"] for c in copies if c["is_first"]])
    holders = [
        EventHolder(event_id=ids[c["identity"]], mailbox=c["mailbox"], graph_id=c["graph_id"],
                    series_master_id=c["series_master_id"], preview=c["preview"], web_link=c["web_link"])
        for c in copies
    ]
    holder_ids = _holders_upsert(EventHolder, holders, ["event", "series_master_id", "preview", "web_link"])
    _delete_where(EventParticipant, "holder_id", holder_ids.values())
    now_holds = {(c["mailbox"], c["graph_id"]): ids[c["identity"]] for c in copies}
    EventParticipant.objects.bulk_create([
        EventParticipant(holder_id=holder_ids[(mailbox, graph_id)], event_id=now_holds[(mailbox, graph_id)], role=role,
                         address=address, name=name, response=response)
        for mailbox, graph_id, role, address, name, response in page.people
    ], ignore_conflicts=True)
    EventCustomer.objects.bulk_create([
        EventCustomer(event_id=ids[key], customer_id=customer_id, starts_at=at) for key, customer_id, at in page.links
    ], ignore_conflicts=True)
    return earlier, now_holds


def event_holders_reconcile(*, mailbox, window_start, window_end, keep_graph_ids):
    """After reading the whole calendar window: this mailbox's holders of events
    in the window that Graph no longer returned (deleted, moved out, or no
    longer with a customer) go, and events left without holders with them."""
    held = EventHolder.objects.filter(
        mailbox=mailbox, event__starts_at__lt=window_end, event__ends_at__gt=window_start
    ).values_list("id", "graph_id", "event_id")
    gone = [(holder_id, event_id) for holder_id, graph_id, event_id in held if graph_id not in keep_graph_ids]
    if not gone:
        return 0
    _delete_ids(EventHolder, [holder_id for holder_id, _ in gone])
    events_delete_orphans(event_ids={event_id for _, event_id in gone})
    return len(gone)


def events_delete_orphans(*, event_ids=None):
    orphans = Event.objects.filter(holders__isnull=True)
    if event_ids is None:
        return _delete_ids(Event, list(orphans.values_list("id", flat=True)))
    doomed = []
    for chunk in _chunks(list(event_ids)):
        doomed += orphans.filter(id__in=chunk).values_list("id", flat=True)
    return _delete_ids(Event, doomed)


# ------------------------------------------------------------------ whole mailboxes


def holders_forget_mailboxes(*, upns):
    """Everything the given mailboxes contributed: their holders, then the
    messages and events no remaining mailbox holds. Returns (messages, events) deleted."""
    upns = list(upns)
    if not upns:
        return 0, 0
    message_ids = set(MessageHolder.objects.filter(mailbox__in=upns).values_list("message_id", flat=True))
    event_ids = set(EventHolder.objects.filter(mailbox__in=upns).values_list("event_id", flat=True))
    MessageHolder.objects.filter(mailbox__in=upns).delete()
    EventHolder.objects.filter(mailbox__in=upns).delete()
    return messages_delete_orphans(message_ids=message_ids), events_delete_orphans(event_ids=event_ids)


def links_refresh(link_model, participant_model, fk, item_ids, customer_for):
    """Make the customer links of these messages or events what their copies'
    participants say now (customer_for: the sync's matching rule), dropping
    links no copy supports any more. Items no copy links to any customer are
    returned (for callers that delete them); links are never added here."""
    unlinked = []
    for chunk in _chunks(sorted(item_ids)):
        wanted = defaultdict(set)
        for item_id, address in participant_model.objects.filter(**{f"{fk}__in": chunk}).values_list(fk, "address"):
            customer_id = customer_for(address)
            if customer_id is not None:
                wanted[item_id].add(customer_id)
        links = link_model.objects.filter(**{f"{fk}__in": chunk}).values_list("id", fk, "customer_id")
        stale = [link_id for link_id, item_id, customer_id in links if customer_id not in wanted[item_id]]
        if stale:
            link_model.objects.filter(id__in=stale).delete()
        unlinked += [item_id for item_id in chunk if not wanted[item_id]]
    return unlinked


# ------------------------------------------------------------------ helpers


def _held_by(holder_model, target_column, copies):
    """(mailbox, graph id) -> the message or event id each copy pointed at before this page."""
    by_mailbox = {}
    for mailbox, graph_id in copies:
        by_mailbox.setdefault(mailbox, []).append(graph_id)
    held = {}
    for mailbox, graph_ids in by_mailbox.items():  # one mailbox per page in practice: one query
        for chunk in _chunks(graph_ids):
            found = holder_model.objects.filter(mailbox=mailbox, graph_id__in=chunk)
            held.update(((mailbox, graph_id), target) for graph_id, target in found.values_list("graph_id", target_column))
    return held


def _ids_by_key(model, key_field, keys):
    """key -> pk for rows just inserted or already there (ignore_conflicts returns no pks)."""
    ids = {}
    for chunk in _chunks(keys):
        ids.update(model.objects.filter(**{f"{key_field}__in": chunk}).values_list(key_field, "id"))
    return ids


def _holders_upsert(holder_model, holders, update_fields):
    """Insert or update copies by (mailbox, graph id); returns (mailbox, graph id) -> holder pk.
    PostgreSQL and SQLite >= 3.35 return the pk of inserted and updated rows alike
    (RETURNING); otherwise they are read back."""
    holder_model.objects.bulk_create(holders, update_conflicts=True, unique_fields=["mailbox", "graph_id"],
                                     update_fields=update_fields)
    if all(holder.pk for holder in holders):
        return {(holder.mailbox, holder.graph_id): holder.pk for holder in holders}
    return _held_by(holder_model, "id", [(holder.mailbox, holder.graph_id) for holder in holders])


def _chunks(items, size=CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _delete_where(model, column, values):
    for chunk in _chunks(list(values)):
        # No dependents and no signals: Django sends this as one plain DELETE.
        model.objects.filter(**{f"{column}__in": chunk}).delete()


def _delete_ids(model, ids):
    """Delete rows by pk with their dependent rows (Django cascades in Python:
    one DELETE per related table per chunk, no per-row queries)."""
    deleted = 0
    for chunk in _chunks(list(ids)):
        deleted += model.objects.filter(id__in=chunk).delete()[1].get(model._meta.label, 0)
    return deleted
