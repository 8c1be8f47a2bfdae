"""Keeps stored communications in step with the customer list and the retention period."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .communications import Event, EventCustomer, EventParticipant, Message, MessageCustomer, MessageParticipant
from .ingest import CHUNK, _delete_ids, links_refresh
from .matching import customer_matcher_build


def communications_forget_unmatched(*, customer_ids=None):
    """Delete communications that touch no customer any more, and customer
    links that no longer hold, after a domain or a customer was removed.

    customer_ids: the customers whose domains changed. Only their items and
    items linked to no customer at all (a deleted customer's links are gone
    by cascade) can be affected, so only those are re-checked; None re-checks
    everything. Matching is re-done from the stored participants with the
    same rule as the sync (domain or parent domain; for events also listed
    contacts). Returns (messages deleted, events deleted)."""
    matcher = customer_matcher_build()
    messages = _forget(
        Message, MessageCustomer, MessageParticipant, "message_id", matcher.customer_for_address, customer_ids
    )
    events = _forget(Event, EventCustomer, EventParticipant, "event_id", matcher.customer_for_attendee, customer_ids)
    return messages, events


def _forget(model, link_model, participant_model, fk, customer_for, customer_ids):
    if customer_ids is None:
        candidates = set(model.objects.values_list("id", flat=True))
    else:
        candidates = set(model.objects.filter(customer_links__isnull=True).values_list("id", flat=True))
        if customer_ids:
            candidates |= set(link_model.objects.filter(customer_id__in=list(customer_ids)).values_list(fk, flat=True))
    doomed = links_refresh(link_model, participant_model, fk, candidates, customer_for)
    return _delete_ids(model, doomed)


def communications_purge_old(*, days=None, now=None):
    """Delete message and event metadata older than the retention period
    (messages by received time, events by end time), in bounded chunks.
    Returns (messages deleted, events deleted)."""
    cutoff = (now or timezone.now()) - timedelta(days=days or settings.VECTIS_RETENTION_DAYS)
    return (
        _purge(Message.objects.filter(received_at__lt=cutoff)),
        _purge(Event.objects.filter(ends_at__lt=cutoff)),
    )


def _purge(queryset):
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("id", flat=True)[:CHUNK])
        if not ids:
            return deleted
        deleted += _delete_ids(queryset.model, ids)
