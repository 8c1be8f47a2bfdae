"""Writes to directory users and posture snapshots.

The collector (integrations.m365.posture_sync) hands over plain ObservedUser
records for the users it matched to a customer; everything here happens in
one transaction, so a page never sees half a run.
"""

from django.db import transaction
from django.utils import timezone

from .exceptions import exceptions_at
from .models import DirectoryUser, PostureSnapshot
from .posture import MODE_REGISTRATION_ONLY, posture_metrics, snapshot_user_row
from .rollup import snapshots_changed

_BATCH = 500
_DIRECTORY_FIELDS = (
    "customer", "user_principal_name", "display_name", "account_enabled", "user_type",
    "mfa_registered", "method_types", "mfa_source", "privileged_roles", "updated_at",
)


def directory_users_replace(*, users):
    """Make DirectoryUser hold exactly `users` (matched users of this run):
    upsert each by Graph id and delete every row not in the run.
    Returns (kept, deleted)."""
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
        rows, batch_size=_BATCH, update_conflicts=True, unique_fields=["graph_id"],
        update_fields=[f for f in _DIRECTORY_FIELDS],
    )
    keep = {u.graph_id for u in users}
    stale = [pk for pk, graph_id in DirectoryUser.objects.values_list("pk", "graph_id") if graph_id not in keep]
    for start in range(0, len(stale), _BATCH):
        DirectoryUser.objects.filter(pk__in=stale[start : start + _BATCH]).delete()
    return len(rows), len(stale)


def snapshot_day(moment):
    """The day a snapshot belongs to: the calendar date in the site's time zone."""
    return timezone.localdate(moment, timezone.get_default_timezone())


def posture_snapshots_write(*, users, as_of, provenance):
    """One snapshot per customer for the day of `as_of`, replacing that day's
    snapshot if the collection runs again. Customers with an earlier snapshot
    but no users now get an empty one, so their current figures do not go stale."""
    by_customer = {}
    for user in users:
        by_customer.setdefault(user.customer_id, []).append(user)
    earlier = PostureSnapshot.objects.values_list("customer_id", flat=True).distinct()
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
def posture_collection_store(*, users, as_of, provenance):
    """Store one finished collection: directory users and the day's snapshots.
    Returns {"kept", "deleted", "snapshots"}."""
    kept, deleted = directory_users_replace(users=users)
    snapshots = posture_snapshots_write(users=users, as_of=as_of, provenance=provenance)
    return {"kept": kept, "deleted": deleted, "snapshots": snapshots}
