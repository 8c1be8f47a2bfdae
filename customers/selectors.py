"""Reads of communications, with the one access rule every list, count,
summary line and body request goes through.

Admins see every matched communication. Members and viewers see only items
held in a copy whose own participant list contains their work email, and
only through such copies: its preview, its participants, its body. The rule
lives in `_took_part_in_message` (through `messages_visible`),
`events_visible` and `copies_visible` and nowhere else.
"""


from django.db.models import Count, Exists, OuterRef, Prefetch
from django.utils import timezone

from accounts.models import Role

from .communications import (
    Event,
    EventHolder,
    EventParticipant,
    Message,
    MessageCustomer,
    MessageHolder,
    MessageParticipant,
)
from .domains import address_normalise
from .windows import calendar_window, mail_window_start


def user_address(user):
    return address_normalise(user.work_email)


def _took_part_in_message(user, message):
    """The access rule for messages: None for admins (they see all), else the
    condition "a copy of `message` names this user among its own participants"
    (an OuterRef; every participant row belongs to exactly one copy)."""
    if user.role == Role.ADMIN:
        return None
    return Exists(MessageParticipant.objects.filter(message=message, address=user_address(user)))


def messages_visible(user):
    took_part = _took_part_in_message(user, OuterRef("pk"))
    messages = Message.objects.all()
    return messages if took_part is None else messages.filter(took_part)


def events_visible(user):
    events = Event.objects.all()
    if user.role == Role.ADMIN:
        return events
    took_part = EventParticipant.objects.filter(event=OuterRef("pk"), address=user_address(user))
    return events.filter(Exists(took_part))


def copies_visible(user, item):
    """The copies (holders) of a message or event this user may see, their own
    mailbox's first, each with `people`: its own participant list. Admins see
    every copy; others those whose own participant list names them. Reads the
    participants the hub prefetched (`participant_rows`, each with its copy),
    else one query."""
    rows = getattr(item, "participant_rows", None)
    if rows is None:
        rows = item.participants.select_related("holder").order_by("role", "id")
    copies = {}
    for row in rows:
        copy, people = copies.setdefault(row.holder_id, (row.holder, []))
        people.append(row)
    for copy, people in copies.values():
        copy.people = people
    me = user_address(user)
    visible = sorted((copy for copy, _ in copies.values()), key=lambda copy: (copy.mailbox != me, copy.mailbox))
    if user.role == Role.ADMIN:
        return visible
    return [copy for copy in visible if any(person.address == me for person in copy.people)]


def customer_messages(user, customer, *, since=None):
    """Visible messages of one customer, newest first (no time bound unless `since`: callers slice or bound it)."""
    # One filter() call: both conditions on the same customer link. A second
    # filter() would join the links again, list a message that touches two
    # customers twice, and keep PostgreSQL off the (customer, -received_at) index.
    link = {"customer_links__customer": customer}
    if since is not None:
        link["customer_links__received_at__gte"] = since
    return messages_visible(user).filter(**link).order_by("-customer_links__received_at", "-id")


def customer_recent_messages(user, customer, *, now=None):
    """Visible messages of the mail look-back, newest first (customer_recent_message_count counts them)."""
    since = mail_window_start(now or timezone.now())
    return (
        customer_messages(user, customer, since=since)
        .prefetch_related(Prefetch(
            "participants", to_attr="participant_rows",
            queryset=MessageParticipant.objects.select_related("holder").order_by("role", "id"),
        ))
    )


def customer_recent_message_count(user, customer, *, now=None):
    """How many messages customer_recent_messages() lists, counted on the
    customer links alone (their (customer, -received_at) index), without
    joining every message: 34 ms -> 3 ms for a customer with 22,000 recent
    messages (docs/performance.md)."""
    since = mail_window_start(now or timezone.now())
    links = MessageCustomer.objects.filter(customer=customer, received_at__gte=since)
    took_part = _took_part_in_message(user, OuterRef("message_id"))
    return (links if took_part is None else links.filter(took_part)).count()


def customer_latest_message(user, customer):
    return customer_messages(user, customer).only("id", "subject", "received_at").first()


def customer_events(user, customer, *, now=None):
    start, end = calendar_window(now or timezone.now())
    return (
        events_visible(user)
        .filter(customer_links__customer=customer,
                customer_links__starts_at__gte=start,
                customer_links__starts_at__lt=end)
        .order_by("customer_links__starts_at", "id")
        .prefetch_related(Prefetch(
            "participants", to_attr="participant_rows",
            queryset=EventParticipant.objects.select_related("holder").order_by("role", "id"),
        ))
    )


def customer_message_for_body(user, customer, message_id):
    """The message if this user may read it for this customer, else None (callers answer 404)."""
    return customer_messages(user, customer).filter(pk=message_id).first()


def customer_event_for_body(user, customer, event_id):
    return events_visible(user).filter(customer_links__customer=customer, pk=event_id).first()


def mailbox_stored_counts(upns):
    """{mailbox: {"inbox": n, "sentitems": n, "calendar": n}}: the copies each
    technician mailbox holds now (counts only, for the admin's Integrations page)."""
    counts = {upn: {"inbox": 0, "sentitems": 0, "calendar": 0} for upn in upns}
    for row in MessageHolder.objects.filter(mailbox__in=upns).values("mailbox", "folder").annotate(n=Count("id")):
        counts[row["mailbox"]][row["folder"]] = row["n"]
    for row in EventHolder.objects.filter(mailbox__in=upns).values("mailbox").annotate(n=Count("id")):
        counts[row["mailbox"]]["calendar"] = row["n"]
    return counts
