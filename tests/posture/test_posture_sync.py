"""Posture collection end to end: GraphClient -> the Graph simulator over
HTTPS -> posture_sync -> DirectoryUser rows, snapshots and the PostureRun.
Expected figures are computed independently from the simulator's own data."""

import json
import math
from datetime import datetime, timezone

import pytest
from django.db import connection

from customers.domains import address_domain
from customers.models import CustomerDomain
from graphsim.server import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, GraphSimulator, serve
from graphsim.tenant import TenantSpec, build_tenant
from integrations.graph.client import GraphClient
from integrations.graph.transport import RetryPolicy
from integrations.posture.posture_sync import posture_sync
from security.models import DirectoryUser, PostureRun, PostureSnapshot
from tests.factories import make_customer, make_user

ANCHOR = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
# The simulator's rule for "MFA registered" (generate.py), restated here so the
# app's arithmetic is checked against an independent count.
NOT_MFA = {"email", "temporaryAccessPass"}
PRIVILEGED_TEMPLATES = {
    "62e90394-69f5-4237-9190-012177145e10", "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "fe930be7-5e62-47db-91af-98c3a49a38b1", "729827e3-9c14-49f7-bb1b-9608f156bbb8",
}
SNAPSHOT_USER_KEYS = {
    "graph_id", "upn", "display_name", "user_type", "account_enabled", "in_scope", "scope_reason",
    "mfa_registered", "method_types", "strongest", "mfa_source", "privileged_roles", "enforcement", "protected",
    "exception",
}



@pytest.fixture
def sim():
    tenant = build_tenant(TenantSpec(seed=7, anchor=ANCHOR))
    running = serve(GraphSimulator(tenant))
    yield running
    running.stop()


def graph_client(running, **kwargs):
    return GraphClient(
        tenant_id=running.simulator.tenant.spec.tenant_id,
        client_id=DEMO_CLIENT_ID,
        secret_provider=lambda: DEMO_CLIENT_SECRET,
        secret_fingerprint="test",
        allowed_mailboxes=[],
        graph_base_url=running.graph_base_url,
        login_base_url=running.login_base_url,
        ca_bundle=running.ca_path,
        sleep=lambda seconds: None,
        retry=kwargs.pop("retry", RetryPolicy(max_retries=2)),
        **kwargs,
    )


def add_customers(tenant):
    """One customer per simulated customer domain, named after it."""
    made = {}
    for domain in tenant.spec.customer_domains:
        made[domain] = make_customer(domain.split(".")[0].title(), domain)
    return made


def customer_users(tenant, domain):
    return [u for u in tenant.users if address_domain(u.upn) == domain or address_domain(u.upn).endswith("." + domain)]


def expected_figures(tenant, domain):
    from graphsim.enforcement import transitive_members

    privileged = {
        m["id"] for r in tenant.roles if r.graph["roleTemplateId"] in PRIVILEGED_TEMPLATES
        for m in r.members if m["@odata.type"] == "#microsoft.graph.user"
    }
    # Members of a role-assignable group holding a privileged role hold it too.
    privileged |= {
        uid for r in tenant.roles if r.graph["roleTemplateId"] in PRIVILEGED_TEMPLATES
        for m in r.members if m["@odata.type"] == "#microsoft.graph.group"
        for uid in transitive_members(tenant, m["id"]) if uid not in tenant.groups
    }
    in_scope = [u for u in customer_users(tenant, domain) if u.graph["userType"] == "Member" and u.graph["accountEnabled"]]
    mfa = {u.id for u in in_scope if set(tenant.registration_details[u.id]["methodsRegistered"]) - NOT_MFA}
    priv = [u for u in in_scope if u.id in privileged]

    def floor_pct(n, d):
        return None if d == 0 else math.floor(n * 1000 / d) / 10

    return {
        "in_scope": len(in_scope),
        "mfa_registered": len(mfa),
        "coverage_pct": floor_pct(len(mfa), len(in_scope)),
        "privileged_in_scope": len(priv),
        "privileged_mfa_registered": sum(1 for u in priv if u.id in mfa),
        "privileged_mfa_pct": floor_pct(sum(1 for u in priv if u.id in mfa), len(priv)),
    }


# ------------------------------------------------------------------ the normal run


@pytest.mark.django_db(transaction=True)
def test_sync_matches_users_by_upn_domain_including_subdomains_and_case(sim):
    tenant = sim.simulator.tenant
    customers = add_customers(tenant)
    run = posture_sync(client=graph_client(sim))
    assert run.outcome == PostureRun.Outcome.SUCCESS, run.error

    stored = {u.graph_id: u for u in DirectoryUser.objects.all()}
    for domain, customer in customers.items():
        for user in customer_users(tenant, domain):
            assert stored[user.id].customer_id == customer.pk, user.upn
    # The simulator puts some users at eu.fabrikam.example and writes some UPNs in mixed case.
    assert any(u.user_principal_name.endswith("@eu.fabrikam.example") and u.customer == customers["fabrikam.example"]
               for u in stored.values())
    assert any(u.upn != u.upn.lower() for d in customers for u in customer_users(tenant, d))
    # Technicians, MSP staff and #EXT# guests match no customer domain: counted, never stored.
    unmatched = [u for u in tenant.users if u.id not in stored]
    assert unmatched and all(u.kind in ("technician", "msp", "guest") for u in unmatched)
    assert (run.users_seen, run.users_matched, run.users_unmatched) == (len(tenant.users), len(stored), len(unmatched))
    assert run.mfa_source == "report" and run.report_unavailable_reason == ""
    assert run.graph_requests > 0 and run.finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_snapshot_figures_match_the_tenant(sim):
    tenant = sim.simulator.tenant
    customers = add_customers(tenant)
    run = posture_sync(client=graph_client(sim))
    assert run.outcome == "success", run.error
    assert PostureSnapshot.objects.count() == len(customers)
    for domain, customer in customers.items():
        snapshot = PostureSnapshot.objects.get(customer=customer)
        expected = expected_figures(tenant, domain)
        assert {k: snapshot.metrics[k] for k in expected} == expected, domain
        assert snapshot.metrics["mfa_unknown"] == 0
        assert {u["upn"] for u in snapshot.users} == {u.upn.lower() for u in customer_users(tenant, domain)}
        assert all(set(u) == SNAPSHOT_USER_KEYS for u in snapshot.users)
        assert snapshot.provenance["mfa_source"] == "report"
        assert snapshot.provenance["posture_run_id"] == run.pk
        assert len(snapshot.provenance["privileged_role_rule"]) >= 17
    # The generator forces a privileged customer user with nothing registered.
    assert any(not u["mfa_registered"] and u["privileged_roles"] for s in PostureSnapshot.objects.all() for u in s.users)


@pytest.mark.django_db(transaction=True)
def test_groups_and_service_principals_in_roles_are_not_users(sim):
    tenant = sim.simulator.tenant
    add_customers(tenant)
    posture_sync(client=graph_client(sim))
    non_users = {m["id"] for r in tenant.roles for m in r.members if m["@odata.type"] != "#microsoft.graph.user"}
    assert non_users
    assert not DirectoryUser.objects.filter(graph_id__in=non_users).exists()
    snapshot = PostureSnapshot.objects.first()
    # Helpdesk holds a group, Exchange a service principal (Directory Readers is not privileged).
    assert snapshot.provenance["role_members_not_users"] == {"group": 1, "servicePrincipal": 1}
    # A user in several privileged roles is stored once with every role.
    multi = [u for u in DirectoryUser.objects.all() if len(u.privileged_roles) > 1]
    assert multi, "the simulator puts some users in several roles"


@pytest.mark.django_db(transaction=True)
def test_rerun_replaces_the_days_snapshot_and_deletes_vanished_users(sim):
    tenant = sim.simulator.tenant
    customers = add_customers(tenant)
    posture_sync(client=graph_client(sim))
    first = PostureSnapshot.objects.get(customer=customers["northwind.example"])

    gone = customer_users(tenant, "northwind.example")[0]
    tenant.users.remove(gone)  # deleted from the directory
    CustomerDomain.objects.filter(domain="tailspin.example").delete()  # no longer a customer domain
    run = posture_sync(client=graph_client(sim))
    assert run.outcome == "success", run.error

    assert PostureSnapshot.objects.filter(customer=customers["northwind.example"]).count() == 1
    again = PostureSnapshot.objects.get(customer=customers["northwind.example"])
    assert again.pk == first.pk and again.taken_on == first.taken_on
    assert again.metrics["users_total"] == first.metrics["users_total"] - 1
    assert not DirectoryUser.objects.filter(graph_id=gone.id).exists()
    assert not DirectoryUser.objects.filter(customer=customers["tailspin.example"]).exists()
    # Tailspin had a snapshot: today's is replaced by an empty one rather than left stale.
    tailspin = PostureSnapshot.objects.get(customer=customers["tailspin.example"])
    assert tailspin.metrics["users_total"] == 0 and tailspin.metrics["coverage_pct"] is None


# ------------------------------------------------------------------ the licence fallback


@pytest.mark.django_db(transaction=True)
def test_unlicensed_report_falls_back_to_per_user_methods_via_batch(sim, client):
    tenant = sim.simulator.tenant
    customers = add_customers(tenant)
    sim.simulator.faults.set("unlicensed_report")
    run = posture_sync(client=graph_client(sim))
    assert run.outcome == "success", run.error

    assert run.mfa_source == "methods"
    assert "Entra ID P1 or P2" in run.report_unavailable_reason
    assert "Authentication_RequestFromNonPremiumTenantOrB2CTenant" in run.report_unavailable_reason
    assert "request-id" in run.report_unavailable_reason
    in_scope_matched = [u for d in customers for u in customer_users(tenant, d)
                        if u.graph["userType"] == "Member" and u.graph["accountEnabled"]]
    assert run.fallback_users == len(in_scope_matched)
    log = sim.simulator.requests
    batches = [r for r in log if r["path"].endswith("/$batch")]
    per_user = [r for r in log if r["via_batch"] and r["path"].endswith("/authentication/methods")]
    assert len(batches) == math.ceil(len(in_scope_matched) / 20)
    assert len(per_user) == len(in_scope_matched)
    assert not [r for r in log if not r["via_batch"] and r["path"].endswith("/authentication/methods")]

    # The same tenant gives the same figures from either source.
    for domain, customer in customers.items():
        snapshot = PostureSnapshot.objects.get(customer=customer)
        expected = expected_figures(tenant, domain)
        assert {k: snapshot.metrics[k] for k in expected} == expected, domain
        assert snapshot.provenance["mfa_source"] == "methods"
        assert all(u["mfa_source"] == "methods" for u in snapshot.users if u["in_scope"])

    # The pages say which source was used, and why.
    client.force_login(make_user("auditor", "viewer"))
    rollup = client.get("/security/").content.decode()
    assert "Per-user authentication methods (fallback" in rollup
    assert "Entra ID P1 or P2" in rollup
    hub = client.get(f"/customers/{customers['northwind.example'].pk}/").content.decode()
    assert "Per-user authentication methods (fallback" in hub


@pytest.mark.django_db(transaction=True)
def test_report_permission_missing_names_the_permission(sim):
    add_customers(sim.simulator.tenant)
    sim.simulator.report_permissions = ("AuditLog.Read.All",)  # the token only has Reports.Read.All
    run = posture_sync(client=graph_client(sim))
    assert run.outcome == "success", run.error
    assert run.mfa_source == "methods"
    assert "AuditLog.Read.All" in run.report_unavailable_reason


@pytest.mark.django_db(transaction=True)
def test_per_user_failures_become_unknown_not_uncovered(sim):
    tenant = sim.simulator.tenant
    customers = add_customers(tenant)
    sim.simulator.faults.set("unlicensed_report")
    sim.simulator.faults.set("throttle", path="/authentication/methods", retry_after=0)
    run = posture_sync(client=graph_client(sim))
    assert run.outcome == "success"
    assert run.error.startswith("Partial:")
    snapshot = PostureSnapshot.objects.get(customer=customers["northwind.example"])
    m = snapshot.metrics
    assert m["mfa_unknown"] == m["in_scope"] > 0
    assert m["mfa_registered"] == m["mfa_not_registered"] == 0
    assert m["coverage_pct"] is None


@pytest.mark.django_db(transaction=True)
def test_a_graph_failure_is_recorded_with_the_request_id_and_stores_nothing(sim):
    add_customers(sim.simulator.tenant)
    sim.simulator.faults.set("unavailable", path="/directoryRoles", retry_after=0)
    run = posture_sync(client=graph_client(sim))
    assert run.outcome == "failed"
    assert run.request_id and run.request_id in run.error
    assert run.retries >= 2
    assert PostureSnapshot.objects.count() == 0 and DirectoryUser.objects.count() == 0


# ------------------------------------------------------------------ nothing but method types


SENSITIVE_METHOD_KEYS = {"id", "displayName", "phoneNumber", "emailAddress", "aaGuid", "model",
                         "attestationCertificates", "phoneAppVersion"}


def _forbidden_values(tenant):
    """What the per-user method objects carry besides their type: phone numbers,
    device and key names, recovery addresses, authenticator models, attestation
    data and method ids. None of it may reach the database."""
    values = set()
    for methods in tenant.auth_methods.values():
        for method in methods:
            for key in SENSITIVE_METHOD_KEYS & set(method):
                value = method[key]
                values.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
    return values


def _dump_database():
    """Every row of every table the database holds (not only Django's models), as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(json.dumps(row, default=str) for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.mark.django_db(transaction=True)
def test_nothing_but_method_types_is_stored(sim):
    tenant = sim.simulator.tenant
    add_customers(tenant)
    sim.simulator.faults.set("unlicensed_report")  # the path that reads device names and phone numbers
    assert posture_sync(client=graph_client(sim)).outcome == "success"

    forbidden = _forbidden_values(tenant)
    assert any(v.startswith("+1 206555") for v in forbidden)  # the simulator does hand out phone numbers
    dump = _dump_database()
    assert "northwind.example" in dump and "microsoftAuthenticator" in dump  # the dump does see the stored data
    leaked = sorted(v for v in forbidden if v in dump)
    assert leaked == []

    known_types = {"microsoftAuthenticator", "softwareOath", "phone", "email", "fido2", "windowsHelloForBusiness",
                   "temporaryAccessPass"}
    assert {f.name for f in DirectoryUser._meta.get_fields()} == {
        "id", "graph_id", "customer", "user_principal_name", "display_name", "account_enabled", "user_type",
        "mfa_registered", "method_types", "mfa_source", "privileged_roles", "updated_at",
    }
    for user in DirectoryUser.objects.all():
        assert set(user.method_types) <= known_types
        # A role record names the role and, at most, the group it is held through and whether it is PIM eligible.
        assert all({"template_id", "name"} <= set(r) <= {"template_id", "name", "via", "assignment"} for r in user.privileged_roles)
    for snapshot in PostureSnapshot.objects.all():
        for row in snapshot.users:
            assert set(row) == SNAPSHOT_USER_KEYS
            assert set(row["method_types"]) <= known_types


# ------------------------------------------------------------------ licence confirmation


@pytest.mark.django_db(transaction=True)
def test_licence_403_is_confirmed_with_subscribed_skus(sim):
    add_customers(sim.simulator.tenant)
    sim.simulator.faults.set("unlicensed_report")
    run = posture_sync(client=graph_client(sim))
    assert "Confirmed: the tenant's subscribed SKUs include no Entra ID P1 or P2" in run.report_unavailable_reason
    snapshot = PostureSnapshot.objects.exclude(users=[]).first()
    assert snapshot.provenance["licence_check"]["verdict"] == "no_premium"


@pytest.mark.django_db(transaction=True)
def test_licence_403_on_a_p1_tenant_is_transient_not_a_licence_verdict(sim):
    add_customers(sim.simulator.tenant)
    sim.simulator.faults.set("unlicensed_report", transient=True)
    run = posture_sync(client=graph_client(sim))
    assert run.outcome == PostureRun.Outcome.SUCCESS and run.mfa_source == "methods"
    assert "transient Microsoft failure, not a licence verdict" in run.report_unavailable_reason
    assert "AAD_PREMIUM in SPE_E3" in run.report_unavailable_reason
    snapshot = PostureSnapshot.objects.exclude(users=[]).first()
    assert snapshot.provenance["licence_check"]["verdict"] == "transient"
    # The next run tries the report again and, the blip over, uses it.
    sim.simulator.faults.clear("unlicensed_report")
    again = posture_sync(client=graph_client(sim))
    assert again.mfa_source == "report" and again.report_unavailable_reason == ""
