"""Mail actions: an opened body and a mailbox sync run each write their audit row."""

from audit.log import audit_log
from audit.models import AuditAction

from .bodies import BodyUnavailable, body_fetch


class ItemNotVisible(Exception):
    """The item does not exist for this customer or this user may not read it."""


def body_open(*, actor, customer, kind, item, item_id, holders, request=None):
    """Fetch a message or event body for `actor` and audit the attempt, whatever its outcome.

    `item` is None when the access rule refused it (ItemNotVisible is raised);
    `holders` are the copies `actor` may see. Returns (holder, body); raises
    BodyUnavailable when Graph cannot give it. The body itself is never audited."""
    target = {"target_type": f"customers.{kind}", "target_id": str(item_id)}
    if item is None:
        audit_log(actor=actor, action=AuditAction.BODY_FETCH, customer=customer, request=request,
                  details={"kind": kind, "outcome": "refused"}, **target)
        raise ItemNotVisible
    ids = {"kind": kind, "internet_message_id": getattr(item, "internet_message_id", None),
           "ical_uid": getattr(item, "ical_uid", None)}
    ids = {k: v for k, v in ids.items() if v is not None}
    try:
        holder, body = body_fetch(kind=kind, holders=holders)
    except BodyUnavailable as problem:
        audit_log(actor=actor, action=AuditAction.BODY_FETCH, customer=customer, request=request,
                  details={**ids, "outcome": "failed", "reason": problem.reason, "request_id": problem.request_id}, **target)
        raise
    audit_log(actor=actor, action=AuditAction.BODY_FETCH, customer=customer, request=request,
              details={**ids, "outcome": "ok", "graph_id": holder.graph_id, "mailbox": holder.mailbox}, **target)
    return holder, body


def mailbox_sync_record(*, upn, summary):
    """The audit row of a mailbox sync run (by the sync task, so no user)."""
    audit_log(actor=None, action=AuditAction.M365_SYNC, target_type="mailbox", target_id=upn,
              details={"actor_label": "sync", **summary})
