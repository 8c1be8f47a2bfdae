"""Documented MFA exceptions: the one way to record or revoke one (each change
writes its audit row), and the reads the snapshot, pages and packs use.

Rules (shown on the pages and in the packs):
- An exception is in force for a snapshot when it was recorded before the
  collection ended, is not revoked, and its expiry date is on or after the
  collection day. After that it stops applying and is listed as expired.
- An excepted user stays in every denominator. Figures are given twice:
  without exceptions (the plain figure) and with exceptions (excepted users
  who are not protected counted as covered by their compensating control).
"""

from django.db import transaction
from django.utils import timezone

from audit.log import audit_log

from .models import MfaException

EXCEPTION_RULE = (
    "An exception (break-glass, service account, external MFA...) names its reason, owner, approver, expiry and "
    "compensating control. The user stays in every denominator; \"with exceptions\" counts an excepted user who is "
    "not protected as covered by the compensating control. An exception stops applying after its expiry date and "
    "is then flagged as expired."
)


def _details(exception):
    return {
        "upn": exception.user_principal_name, "graph_id": exception.graph_id, "kind": exception.kind,
        "reason": exception.reason, "owner": exception.owner, "approver": exception.approver,
        "expires_on": exception.expires_on.isoformat(), "compensating_control": exception.compensating_control,
    }


@transaction.atomic
def mfa_exception_create(*, actor, customer, graph_id, upn, kind, reason, owner, approver, expires_on,
                         compensating_control, request=None):
    exception = MfaException.objects.create(
        customer=customer, graph_id=graph_id, user_principal_name=upn, kind=kind, reason=reason, owner=owner,
        approver=approver, expires_on=expires_on, compensating_control=compensating_control,
        created_by=actor.get_username() if actor is not None else "",
    )
    audit_log(actor=actor, action="mfa_exception.create", target=exception, customer=customer,
              details=_details(exception), request=request)
    return exception


@transaction.atomic
def mfa_exception_revoke(*, actor, exception, request=None):
    if exception.revoked_at is not None:
        return exception
    exception.revoked_at = timezone.now()
    exception.revoked_by = actor.get_username() if actor is not None else ""
    exception.save(update_fields=["revoked_at", "revoked_by"])
    audit_log(actor=actor, action="mfa_exception.revoke", target=exception, customer=exception.customer,
              details=_details(exception), request=request)
    return exception


def exception_record(exception):
    """The plain data a snapshot keeps for one exception (packs are built from it)."""
    return {"id": exception.pk, **_details(exception), "created_by": exception.created_by,
            "created_at": exception.created_at.isoformat()}


def exceptions_at(customer_ids, moment):
    """({customer id: {graph id: record}} in force at `moment`, {customer id: [expired records]})."""
    day = timezone.localdate(moment, timezone.get_default_timezone())
    in_force, expired = {}, {}
    rows = MfaException.objects.filter(customer_id__in=customer_ids, created_at__lte=moment).exclude(
        revoked_at__lte=moment).order_by("user_principal_name", "-expires_on", "pk")
    for exception in rows:
        if exception.expires_on >= day:
            in_force.setdefault(exception.customer_id, {}).setdefault(exception.graph_id, exception_record(exception))
        else:
            expired.setdefault(exception.customer_id, []).append(exception_record(exception))
    return in_force, expired
