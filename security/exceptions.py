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


from customers.windows import exception_in_force_on, snapshot_day

from .models import MfaException

EXCEPTION_RULE = (
    "An exception (break-glass, service account, external MFA...) names its reason, owner, approver, expiry and "
    "compensating control. The user stays in every denominator; \"with exceptions\" counts an excepted user who is "
    "not protected as covered by the compensating control. An exception stops applying after its expiry date and "
    "is then flagged as expired."
)


def exception_details(exception):
    return {
        "upn": exception.user_principal_name, "graph_id": exception.graph_id, "kind": exception.kind,
        "reason": exception.reason, "owner": exception.owner, "approver": exception.approver,
        "expires_on": exception.expires_on.isoformat(), "compensating_control": exception.compensating_control,
    }


def exception_record(exception):
    """The plain data a snapshot keeps for one exception (packs are built from it)."""
    return {"id": exception.pk, **exception_details(exception), "created_by": exception.created_by,
            "created_at": exception.created_at.isoformat()}


def exceptions_at(customer_ids, moment):
    """({customer id: {graph id: record}} in force at `moment`, {customer id: [expired records]})."""
    day = snapshot_day(moment)
    in_force, expired = {}, {}
    rows = MfaException.objects.filter(customer_id__in=customer_ids, created_at__lte=moment).exclude(
        revoked_at__lte=moment).order_by("user_principal_name", "-expires_on", "pk")
    for exception in rows:
        if exception_in_force_on(exception.expires_on, day):
            in_force.setdefault(exception.customer_id, {}).setdefault(exception.graph_id, exception_record(exception))
        else:
            expired.setdefault(exception.customer_id, []).append(exception_record(exception))
    return in_force, expired
