"""Writes to directory users and posture snapshots.

The collector (integrations.posture.posture_sync) hands over plain ObservedUser
records for the users it matched to a customer; everything here happens in
one transaction, so a page never sees half a run.
"""

from django.db import transaction
from django.utils import timezone

from audit.log import audit_log
from audit.models import AuditAction
from customers.windows import snapshot_day

from .exceptions import exception_details, exceptions_at
from .models import CustomerTenant, DirectoryUser, MfaException, PostureSnapshot
from .posture import MODE_REGISTRATION_ONLY, posture_metrics, snapshot_user_row
from .rollup import snapshots_changed

_BATCH = 500
_DIRECTORY_FIELDS = (
    "customer", "user_principal_name", "display_name", "account_enabled", "user_type",
    "mfa_registered", "method_types", "mfa_source", "privileged_roles", "updated_at",
)


def collection_scope(queryset, customer_id):
    """The rows one collection owns. customer_id: a linked customer's
    collection from its own tenant; None: the MSP tenant's, which owns every
    customer not linked to a tenant of its own."""
    if customer_id is not None:
        return queryset.filter(customer_id=customer_id)
    return queryset.exclude(customer__tenant_link__tenant_id__gt="")


def directory_users_replace(*, users, customer_id=None):
    """Make the collection's DirectoryUser rows (collection_scope) hold exactly
    `users` (matched users of this run): upsert each by (customer, Graph id)
    and delete every row of the scope not in the run. Returns (kept, deleted)."""
    rows = [
        DirectoryUser(
            graph_id=u.graph_id,
            customer_id=u.customer_id,
            user_principal_name=u.upn,
            display_name=u.display_name,
            account_enabled=u.account_enabled,
            user_type=u.user_type,
            mfa_registered=u.mfa_registered,
            method_types=list(u.method_types),
            mfa_source=u.mfa_source,
            privileged_roles=[dict(r) for r in u.privileged_roles],
        )
        for u in users
    ]
    DirectoryUser.objects.bulk_create(
        rows, batch_size=_BATCH, update_conflicts=True, unique_fields=["customer", "graph_id"],
        update_fields=[f for f in _DIRECTORY_FIELDS if f != "customer"],
    )
    keep = {(u.customer_id, u.graph_id) for u in users}
    scope = collection_scope(DirectoryUser.objects, customer_id)
    stale = [pk for pk, owner, graph_id in scope.values_list("pk", "customer_id", "graph_id") if (owner, graph_id) not in keep]
    for start in range(0, len(stale), _BATCH):
        DirectoryUser.objects.filter(pk__in=stale[start : start + _BATCH]).delete()
    return len(rows), len(stale)


def posture_snapshots_write(*, users, as_of, provenance, customer_id=None):
    """One snapshot per customer for the day of `as_of`, replacing that day's
    snapshot if the collection runs again. Customers of the collection's scope
    (collection_scope) with an earlier snapshot but no users now get an empty
    one, so their current figures do not go stale."""
    by_customer = {} if customer_id is None else {customer_id: []}
    for user in users:
        by_customer.setdefault(user.customer_id, []).append(user)
    earlier = collection_scope(PostureSnapshot.objects, customer_id).values_list("customer_id", flat=True).distinct()
    for customer_id in earlier:
        by_customer.setdefault(customer_id, [])
    taken_on = snapshot_day(as_of)
    in_force, expired = exceptions_at(list(by_customer), as_of)
    mode = provenance.get("enforcement_mode") or MODE_REGISTRATION_ONLY
    snapshots = []
    for customer_id, members in sorted(by_customer.items()):
        excepted = in_force.get(customer_id, {})
        snapshots.append(PostureSnapshot(
            customer_id=customer_id,
            taken_on=taken_on,
            as_of=as_of,
            metrics=posture_metrics(members, enforcement_mode=mode, excepted=set(excepted),
                                    expired_exceptions=len(expired.get(customer_id, []))),
            users=[{**snapshot_user_row(u), "exception": excepted.get(u.graph_id)}
                   for u in sorted(members, key=lambda u: u.upn)],
            provenance={**provenance, "exceptions": {"in_force": sorted(excepted.values(), key=lambda e: (e["upn"], e["id"])),
                                                     "expired": expired.get(customer_id, [])}},
        ))
    PostureSnapshot.objects.bulk_create(
        snapshots, batch_size=_BATCH, update_conflicts=True,
        unique_fields=["customer", "taken_on"], update_fields=["as_of", "metrics", "users", "provenance"],
    )
    transaction.on_commit(snapshots_changed)
    snapshots_changed()
    return len(snapshots)


@transaction.atomic
@transaction.atomic
def posture_collection_store(*, users, as_of, provenance, customer_id=None):
    """Store one finished collection: directory users and the day's snapshots
    of its scope (customer_id: a linked customer's own tenant; None: the MSP
    tenant's). Returns {"kept", "deleted", "snapshots"}."""
    if customer_id is None:
        # The MSP run matched users by domain when it started; a customer linked to its own
        # tenant since then is no longer its to write (the links stay locked until commit).
        linked = set(CustomerTenant.objects.select_for_update().exclude(tenant_id="").values_list("customer_id", flat=True))
        users = [u for u in users if u.customer_id not in linked]
    kept, deleted = directory_users_replace(users=users, customer_id=customer_id)
    snapshots = posture_snapshots_write(users=users, as_of=as_of, provenance=provenance, customer_id=customer_id)
    return {"kept": kept, "deleted": deleted, "snapshots": snapshots}


@transaction.atomic
def customer_posture_forget(customer_id):
    """Delete every directory user and snapshot stored for a customer (its tenant
    was unlinked or replaced); returns the number of snapshots deleted."""
    DirectoryUser.objects.filter(customer_id=customer_id).delete()
    deleted, _ = PostureSnapshot.objects.filter(customer_id=customer_id).delete()
    transaction.on_commit(snapshots_changed)  # /security's cached order no longer holds
    return deleted


@transaction.atomic
def mfa_exception_create(*, actor, customer, graph_id, upn, kind, reason, owner, approver, expires_on,
                         compensating_control, request=None):
    exception = MfaException.objects.create(
        customer=customer, graph_id=graph_id, user_principal_name=upn, kind=kind, reason=reason, owner=owner,
        approver=approver, expires_on=expires_on, compensating_control=compensating_control,
        created_by=actor.get_username() if actor is not None else "",
    )
    audit_log(actor=actor, action=AuditAction.MFA_EXCEPTION_CREATE, target=exception, customer=customer,
              details=exception_details(exception), request=request)
    return exception


@transaction.atomic
def mfa_exception_revoke(*, actor, exception, request=None):
    if exception.revoked_at is not None:
        return exception
    exception.revoked_at = timezone.now()
    exception.revoked_by = actor.get_username() if actor is not None else ""
    exception.save(update_fields=["revoked_at", "revoked_by"])
    audit_log(actor=actor, action=AuditAction.MFA_EXCEPTION_REVOKE, target=exception, customer=exception.customer,
              details=exception_details(exception), request=request)
    return exception


def security_export_record(*, actor, rows, sort, order, request=None):
    audit_log(actor=actor, action=AuditAction.SECURITY_EXPORT_CSV, request=request,
              details={"rows": rows, "sort": sort, "order": order})
