"""Reads of communications, with the one access rule every list, count,
summary line and body request goes through.

Admins see every matched communication. Members and viewers see only items
whose participant list contains their own work email. The rule lives in
`messages_visible` / `events_visible` and nowhere else.
"""

from datetime import timedelta

from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone

from vectis.models import Role

from .communications import Event, EventParticipant, Message, MessageHolder, MessageParticipant

RECENT_DAYS = 14
EVENTS_PAST_DAYS = 7
EVENTS_AHEAD_DAYS = 14


def messages_visible(user):
    messages = Message.objects.all()
    if user.role == Role.ADMIN:
        return messages
    took_part = MessageParticipant.objects.filter(message=OuterRef("pk"), address=user.work_email.lower())
    return messages.filter(Exists(took_part))


def events_visible(user):
    events = Event.objects.all()
    if user.role == Role.ADMIN:
        return events
    took_part = EventParticipant.objects.filter(event=OuterRef("pk"), address=user.work_email.lower())
    return events.filter(Exists(took_part))


def customer_messages(user, customer):
    """Visible messages of one customer, newest first (no time bound: callers slice or bound it)."""
    return (
        messages_visible(user)
        .filter(customer_links__customer=customer)
        .order_by("-customer_links__received_at", "-id")
    )


def customer_recent_messages(user, customer, *, now=None):
    since = (now or timezone.now()) - timedelta(days=RECENT_DAYS)
    return (
        customer_messages(user, customer)
        .filter(customer_links__received_at__gte=since)
        .prefetch_related(
            Prefetch("participants", queryset=MessageParticipant.objects.order_by("role", "id")),
            Prefetch("holders", queryset=MessageHolder.objects.order_by("mailbox")),
        )
    )


def customer_latest_message(user, customer):
    return customer_messages(user, customer).only("id", "subject", "received_at").first()


def customer_events(user, customer, *, now=None):
    now = now or timezone.now()
    return (
        events_visible(user)
        .filter(customer_links__customer=customer,
                customer_links__starts_at__gte=now - timedelta(days=EVENTS_PAST_DAYS),
                customer_links__starts_at__lt=now + timedelta(days=EVENTS_AHEAD_DAYS))
        .order_by("customer_links__starts_at", "id")
        .prefetch_related(Prefetch("participants", queryset=EventParticipant.objects.order_by("role", "id")))
    )


def customer_message_for_body(user, customer, message_id):
    """The message if this user may read it for this customer, else None (callers answer 404)."""
    return customer_messages(user, customer).filter(pk=message_id).first()


def customer_event_for_body(user, customer, event_id):
    return events_visible(user).filter(customer_links__customer=customer, pk=event_id).first()
