"""How audit rows about customers, their email and their meetings are named and linked (audit.readable)."""

from django.urls import reverse

from audit.readable import TargetLabel, target_describer_register

from .communications import EventCustomer, MessageCustomer
from .models import Customer

SUBJECT_SHOWN = 80  # characters of a subject in the audit log's Target column


def _subject(text):
    text = " ".join((text or "").split()) or "(no subject)"
    return text if len(text) <= SUBJECT_SHOWN else text[: SUBJECT_SHOWN - 1] + "…"


def _hub(customer_id):
    return reverse("customers:hub", args=[customer_id]) if customer_id else ""


def _int_ids(ids):
    return {int(i) for i in ids if str(i).isdigit()}


def customers_describe(ids):
    return {str(pk): TargetLabel(name, _hub(pk)) for pk, name in Customer.objects.filter(pk__in=_int_ids(ids)).values_list("pk", "name")}


def messages_describe(ids):
    """'Email "<subject>"', linked to the customer page it is on. A message since
    removed (retention, mailbox left the list) is not described: the row keeps its id."""
    links = MessageCustomer.objects.filter(message_id__in=_int_ids(ids))
    return _first_per_item(links.values_list("message_id", "message__subject", "customer_id"), "Email")


def events_describe(ids):
    links = EventCustomer.objects.filter(event_id__in=_int_ids(ids))
    return _first_per_item(links.values_list("event_id", "event__subject", "customer_id"), "Meeting")


def _first_per_item(rows, kind):
    labels = {}
    for item_id, subject, customer_id in sorted(rows):
        labels.setdefault(str(item_id), TargetLabel(f"{kind} “{_subject(subject)}”", _hub(customer_id)))
    return labels


def register():
    target_describer_register("customers.customer", customers_describe)
    target_describer_register("customers.message", messages_describe)
    target_describer_register("customers.event", events_describe)
