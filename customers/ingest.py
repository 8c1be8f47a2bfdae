"""The write side of communications: bulk upserts of one page of already
filtered records, and the deletes that keep holders and rows in step.

The sync jobs (integrations) run the customer-domain filter first and hand
over only what is kept, as the plain rows below; nothing here knows Graph.
Every function works on a whole page with a fixed handful of queries (never
one per item) and is idempotent: replaying a page changes nothing.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

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
from .domains import DomainIndex
from .models import Contact, CustomerDomain, OwnDomain

# Keeps IN (...) lists below every backend's bound parameter limit.
CHUNK = 500


# ------------------------------------------------------------------ what "a customer" is, once per run


@dataclass(frozen=True)
class CustomerMatcher:
    """Which customer an address belongs to: by domain (or parent domain) for
    everything, by listed contact address for events. Built with two queries."""

    domains: DomainIndex
    contacts: dict  # lowercase address -> customer id
    fingerprint: str  # changes whenever the customer-domain set does

    def customer_for_address(self, address):
        return self.domains.customer_for_address(address)

    def customer_for_attendee(self, address):
        customer_id = self.domains.customer_for_address(address)
        return customer_id if customer_id is not None else self.contacts.get(address)


def customer_matcher_build():
    pairs = sorted(CustomerDomain.objects.values_list("domain", "customer_id"))
    contacts = {
        email.strip().lower(): customer_id for email, customer_id in Contact.objects.values_list("email", "customer_id")
    }
    fingerprint = hashlib.sha256("\n".join(domain for domain, _ in pairs).encode()).hexdigest()
    return CustomerMatcher(domains=DomainIndex(pairs), contacts=contacts, fingerprint=fingerprint)


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


# received_at is not among them: copies in other mailboxes arrive seconds
# apart, and the customer links (which carry it for the hub's index) are
# written once, so the first copy's time stays on both.
MESSAGE_UPDATE_FIELDS = [
    "conversation_id", "subject", "preview", "from_name", "from_address", "sent_at", "direction", "updated_at",
]
EVENT_UPDATE_FIELDS = [
    "subject", "preview", "starts_at", "ends_at", "is_all_day", "is_cancelled", "location", "organizer_name",
    "organizer_address", "online_meeting_url", "updated_at",
]


# ------------------------------------------------------------------ messages


def messages_upsert(*, rows):
    """Write one page of kept messages: 4 queries whatever the page size.

    One Message per internetMessageId (a copy in another mailbox only adds a
    holder); participants and customer links are the union over all copies,
    because the sender's copy carries bcc and a colleague's copy does not."""
    if not rows:
        return 0
    merged = {}
    for row in rows:
        known = merged.get(row.internet_message_id)
        if known is None:
            merged[row.internet_message_id] = (row, set(row.participants), set(row.customer_ids))
        else:
            known[1].update(row.participants)
            known[2].update(row.customer_ids)
    messages = [
        Message(
            internet_message_id=key, conversation_id=row.conversation_id, subject=row.subject, preview=row.preview,
            from_name=row.from_name, from_address=row.from_address, sent_at=row.sent_at, received_at=row.received_at,
            direction=row.direction,
        )
        for key, (row, _people, _customers) in merged.items()
    ]
    Message.objects.bulk_create(
        messages, update_conflicts=True, unique_fields=["internet_message_id"], update_fields=MESSAGE_UPDATE_FIELDS
    )
    ids = _ids_after_upsert(Message, messages, "internet_message_id")
    holders = {}
    for row in rows:  # the last copy of a replayed item wins, as Graph's order says
        holders[(row.mailbox, row.graph_id)] = MessageHolder(
            message_id=ids[row.internet_message_id], mailbox=row.mailbox, graph_id=row.graph_id, folder=row.folder,
            web_link=row.web_link,
        )
    MessageHolder.objects.bulk_create(
        list(holders.values()), update_conflicts=True, unique_fields=["mailbox", "graph_id"],
        update_fields=["message", "folder", "web_link"],
    )
    participants, links = [], []
    for key, (row, people, customers) in merged.items():
        message_id = ids[key]
        participants += [MessageParticipant(message_id=message_id, role=r, address=a, name=n) for r, a, n in people]
        links += [MessageCustomer(message_id=message_id, customer_id=c, received_at=row.received_at) for c in customers]
    MessageParticipant.objects.bulk_create(participants, ignore_conflicts=True)
    MessageCustomer.objects.bulk_create(links, ignore_conflicts=True)
    return len(holders)


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
    gone = [graph_id for graph_id in held.values_list("graph_id", flat=True) if graph_id not in keep_graph_ids]
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


def events_upsert(*, rows):
    """Write one page of kept events: 6 queries whatever the page size.

    Attendees and responses change over an event's life, so an event's
    participants and customer links are replaced, not merged."""
    if not rows:
        return 0
    merged = {row.ical_uid: row for row in rows}
    events = [
        Event(
            ical_uid=key, subject=row.subject, preview=row.preview, starts_at=row.starts_at, ends_at=row.ends_at,
            is_all_day=row.is_all_day, is_cancelled=row.is_cancelled, location=row.location,
            organizer_name=row.organizer_name, organizer_address=row.organizer_address,
            online_meeting_url=row.online_meeting_url,
        )
        for key, row in merged.items()
    ]
    Event.objects.bulk_create(events, update_conflicts=True, unique_fields=["ical_uid"], update_fields=EVENT_UPDATE_FIELDS)
    ids = _ids_after_upsert(Event, events, "ical_uid")
    holders = {
        (row.mailbox, row.graph_id): EventHolder(
            event_id=ids[row.ical_uid], mailbox=row.mailbox, graph_id=row.graph_id,
            series_master_id=row.series_master_id, web_link=row.web_link,
        )
        for row in rows
    }
    EventHolder.objects.bulk_create(
        list(holders.values()), update_conflicts=True, unique_fields=["mailbox", "graph_id"],
        update_fields=["event", "series_master_id", "web_link"],
    )
    event_ids = list(ids.values())
    _delete_where(EventParticipant, "event_id", event_ids)
    _delete_where(EventCustomer, "event_id", event_ids)
    participants, links = [], []
    for key, row in merged.items():
        event_id = ids[key]
        unique = {(role, address): (name, response) for role, address, name, response in row.participants}
        participants += [
            EventParticipant(event_id=event_id, role=role, address=address, name=name, response=response)
            for (role, address), (name, response) in unique.items()
        ]
        links += [EventCustomer(event_id=event_id, customer_id=c, starts_at=row.starts_at) for c in row.customer_ids]
    EventParticipant.objects.bulk_create(participants, ignore_conflicts=True)
    EventCustomer.objects.bulk_create(links, ignore_conflicts=True)
    return len(holders)


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


# ------------------------------------------------------------------ helpers


def _ids_after_upsert(model, objs, key_field):
    """key -> pk. PostgreSQL and SQLite >= 3.35 return the pk of inserted and
    updated rows alike (RETURNING); otherwise read them back in one query."""
    if all(obj.pk for obj in objs):
        return {getattr(obj, key_field): obj.pk for obj in objs}
    keys = [getattr(obj, key_field) for obj in objs]
    ids = {}
    for chunk in _chunks(keys):
        ids.update(model.objects.filter(**{f"{key_field}__in": chunk}).values_list(key_field, "id"))
    return ids


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
