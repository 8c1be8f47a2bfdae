"""The test factories (tests/factories.py) build snapshots with the real
posture code; this checks the whole way round: a factory snapshot equals the
one posture_collection_store writes for the same collected users."""

from dataclasses import replace
from datetime import datetime, timezone

from security.models import PostureSnapshot
from security.services import posture_collection_store
from tests.factories import (
    EXCHANGE_ADMIN,
    GLOBAL_ADMIN,
    PROVENANCE,
    make_customer,
    make_snapshot,
    metrics_for,
    observed_user,
    population,
    user,
)


def test_a_factory_snapshot_is_what_the_posture_sync_stores(db):
    customer = make_customer("Northwind", "northwind.example")
    collected = [
        observed_user("alice@northwind.example", "Alice Admin", roles=[GLOBAL_ADMIN], methods=["fido2"]),
        observed_user("erin@northwind.example", "Erin Exchange", mfa=False, roles=[EXCHANGE_ADMIN]),
        observed_user("carol@northwind.example", "Carol Chen", methods=["mobilePhone"]),
        observed_user("uma@northwind.example", "Uma Unknown", mfa=None),
        observed_user("guest_x@partner.example", "Gail Guest", mfa=False, user_type="guest"),
        observed_user("dave@northwind.example", "Dave Disabled", mfa=False, enabled=False),
    ]
    as_of = datetime(2025, 6, 1, 2, 0, 41, tzinfo=timezone.utc)
    posture_collection_store(users=[replace(u, customer_id=customer.pk) for u in collected], as_of=as_of, provenance=PROVENANCE)
    stored = PostureSnapshot.objects.get(customer=customer)

    rows = [user(u.upn, u.display_name, mfa=u.mfa_registered, roles=u.privileged_roles, user_type=u.user_type,
                 enabled=u.account_enabled, methods=list(u.method_types)) for u in sorted(collected, key=lambda u: u.upn)]
    ours = make_snapshot(customer, rows, taken_on=stored.taken_on, as_of=as_of, save=False)
    assert ours.users == stored.users
    assert ours.metrics == stored.metrics
    assert stored.metrics["privileged_mfa_not_registered"] == 1 and stored.metrics["mfa_unknown"] == 1


def test_population_counts_come_out_as_asked():
    m = metrics_for(population(members=20, mfa=15, weak=3, unknown=1, privileged=4, privileged_mfa=2,
                               privileged_unknown=1, guests=2, disabled=1))
    assert (m["users_total"], m["in_scope"], m["excluded_guests"], m["excluded_disabled"]) == (23, 20, 2, 1)
    assert (m["mfa_registered"], m["mfa_not_registered"], m["mfa_unknown"]) == (15, 4, 1)
    assert (m["privileged_in_scope"], m["privileged_mfa_registered"], m["privileged_mfa_not_registered"],
            m["privileged_mfa_unknown"]) == (4, 2, 1, 1)
    assert m["strongest_weak"] == 3 and m["coverage_pct"] == 78.9 and m["privileged_mfa_pct"] == 66.6
