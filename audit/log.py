"""The one function every state change calls to write its audit row."""

from dataclasses import dataclass

from django.db import transaction

from accounts.audit_hook import client_ip

from .chain import chain_link, chain_lock_and_head, details_canonical, text_storable
from .models import AuditEvent

# Keys whose values must never reach the audit table: secrets and content.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {"secret", "client_secret", "password", "token", "access_token", "body", "content", "html"}
)


def _check_details(details, path="details"):
    if isinstance(details, dict):
        for key, value in details.items():
            if str(key).lower() in FORBIDDEN_DETAIL_KEYS:
                raise ValueError(f"{path}.{key} may not be written to the audit log")
            _check_details(value, f"{path}.{key}")
    elif isinstance(details, (list, tuple)):
        for index, value in enumerate(details):
            _check_details(value, f"{path}[{index}]")


@dataclass
class AuditEntry:
    """One row to write, for audit_log_many."""

    action: str
    actor: object = None
    target: object = None
    target_type: str = ""
    target_id: str = ""
    customer_id: int | None = None
    details: dict | None = None
    customer: object = None


def _event(*, actor, action, target=None, target_type="", target_id="", customer=None, customer_id=None, details=None,
           request=None):
    details = dict(details or {})
    if customer is not None:
        customer_id = customer.pk
    _check_details(details)
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent(
        actor=actor if authenticated else None,
        actor_label=text_storable(actor.get_username() if authenticated else details.pop("actor_label", "")),
        action=action,
        target_type=target_type,
        target_id=text_storable(str(target_id or "")),
        customer_id=customer_id,
        customer_name=text_storable(customer.name if customer is not None else ""),
        ip_address=client_ip(request),
        details=details_canonical(details),
    )


def audit_log(*, actor, action, target=None, target_type="", target_id="", customer=None, customer_id=None, details=None,
              request=None):
    """Append one audit row. `target` may be a model instance (type and id are taken from it);
    `customer` the customer the row concerns (its id and current name are stored)."""
    event = _event(actor=actor, action=action, target=target, target_type=target_type, target_id=target_id,
                   customer=customer, customer_id=customer_id, details=details, request=request)
    with transaction.atomic():
        chain_link([event], chain_lock_and_head(AuditEvent))
        event.save(force_insert=True)
    return event


def audit_log_many(entries, *, request=None):
    """Append many rows at once (one lock, one bulk insert), in the given order."""
    events = [_event(actor=e.actor, action=e.action, target=e.target, target_type=e.target_type,
                     target_id=e.target_id, customer=e.customer, customer_id=e.customer_id, details=e.details,
                     request=request)
              for e in entries]
    if not events:
        return []
    with transaction.atomic():
        chain_link(events, chain_lock_and_head(AuditEvent))
        return AuditEvent.objects.bulk_create(events, batch_size=1000)
