"""MFA enforcement end to end: GraphClient -> the Graph simulator over HTTPS ->
posture_sync -> snapshot rows and figures. The simulator builds one user per
enforcement outcome (tenant.enforcement_cases); expected figures are computed
here from the simulator's own data, not by the app's evaluator."""

from datetime import datetime, timezone

import pytest

from graphsim.enforcement import ADMIN_ROLES, transitive_members
from graphsim.server import (
    ALL_SIX,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    WITH_POLICY_READ,
    GraphSimulator,
    serve,
)
from graphsim.tenant import TenantSpec, build_tenant
from integrations.graph.client import GraphClient
from integrations.graph.transport import RetryPolicy
from integrations.posture.posture_sync import posture_sync
from security.models import PostureRun, PostureSnapshot
from tests.posture.test_posture_sync import NOT_MFA, add_customers, customer_users

ANCHOR = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def start(permissions=WITH_POLICY_READ, **spec):
    return serve(GraphSimulator(build_tenant(TenantSpec(seed=7, anchor=ANCHOR, **spec)), granted_permissions=permissions))


@pytest.fixture
def sim():
    running = start()
    yield running
    running.stop()


def client_for(running, sleeps=None, clock=None):
    extra = {"clock": clock} if clock else {}
    return GraphClient(
        tenant_id=running.simulator.tenant.spec.tenant_id, client_id=DEMO_CLIENT_ID,
        secret_provider=lambda: DEMO_CLIENT_SECRET, secret_fingerprint="test", allowed_mailboxes=[],
        graph_base_url=running.graph_base_url, login_base_url=running.login_base_url, ca_bundle=running.ca_path,
        sleep=(sleeps.append if sleeps is not None else (lambda s: None)), retry=RetryPolicy(max_retries=2), **extra,
    )


def rows_by_id():
    return {row["graph_id"]: (snap, row) for snap in PostureSnapshot.objects.all() for row in snap.users}


def run_sync(running):
    add_customers(running.simulator.tenant)
    run = posture_sync(client=client_for(running))
    assert run.outcome == PostureRun.Outcome.SUCCESS, run.error
    return run


EXPECTED = {
    # case -> (state, reason, policy number or None, text that must appear in the detail)
    "nested_group": ("enforced", "policy", "CA001", "group All Staff"),
    "excluded_group": ("not_enforced", "excluded", "CA001", "group Break Glass"),
    "excluded_user": ("not_enforced", "excluded", "CA002", "by user"),
    "excluded_role": ("not_enforced", "excluded", "CA001", "role Directory Readers"),
    "report_only": ("not_enforced", "report_only", "CA003", "report-only"),
    "disabled": ("not_enforced", "disabled", "CA004", "disabled"),
    "or_grant": ("not_enforced", "or_grant", "CA005", "compliant device"),
    "some_apps": ("not_enforced", "some_apps", "CA006", "Office365"),
    "conditional": ("conditional", "conditional", "CA007", "locations"),
    "per_user_enforced": ("enforced", "per_user_mfa", None, "enforced"),
    "per_user_enabled": ("conditional", "per_user_mfa", None, "legacy authentication"),
    "no_policy": ("not_enforced", "no_policy", None, "no enabled"),
}


@pytest.mark.django_db(transaction=True)
def test_every_enforcement_reason_appears_for_the_user_built_for_it(sim):
    tenant = sim.simulator.tenant
    run_sync(sim)
    rows = rows_by_id()
    assert set(tenant.enforcement_cases) == set(EXPECTED)
    for case, (state, reason, policy, text) in EXPECTED.items():
        snapshot, row = rows[tenant.enforcement_cases[case]]
        record = row["enforcement"]
        assert (record["state"], record["reason"]) == (state, reason), (case, record)
        assert record["policy_name"].startswith(policy) if policy else record["policy_name"] == "", (case, record)
        assert text in record["detail"], (case, record)
        assert snapshot.provenance["enforcement_mode"] == "enforcement"


@pytest.mark.django_db(transaction=True)
def test_admins_are_enforced_by_the_phishing_resistant_strength(sim):
    tenant = sim.simulator.tenant
    run_sync(sim)
    rows = rows_by_id()
    admins = {m["id"] for r in tenant.roles if r.graph["displayName"] in ADMIN_ROLES for m in r.members
              if m["@odata.type"] == "#microsoft.graph.user"} - {tenant.enforcement_cases["excluded_user"]}
    stored = [rows[a][1] for a in admins if a in rows]
    assert stored
    for row in stored:
        assert row["enforcement"]["policy_name"].startswith(("CA001", "CA002")), row["enforcement"]
    assert any("phishing-resistant" in row["enforcement"]["detail"] for row in stored)


def independent_enforced(tenant):
    """Who the simulator's policies enforce, worked out from its groups and roles directly."""
    groups = tenant.group_ids
    staff = set(transitive_members(tenant, groups["all_staff"])) - set(transitive_members(tenant, groups["break_glass"]))
    readers = {m["id"] for r in tenant.roles if r.graph["displayName"] == "Directory Readers" for m in r.members}
    guests = {u.id for u in tenant.users if u.kind == "guest"}
    admins = {m["id"] for r in tenant.roles if r.graph["displayName"] in ADMIN_ROLES for m in r.members}
    per_user = {uid for uid, state in tenant.per_user_mfa.items() if state == "enforced"}
    return (staff - readers - guests) | (admins - {tenant.enforcement_cases["excluded_user"]}) | per_user


@pytest.mark.django_db(transaction=True)
def test_registered_enforced_and_protected_figures_match_the_tenant(sim):
    tenant = sim.simulator.tenant
    run_sync(sim)
    enforced_ids = independent_enforced(tenant)
    for domain in tenant.spec.customer_domains:
        in_scope = [u for u in customer_users(tenant, domain) if u.graph["userType"] == "Member" and u.graph["accountEnabled"]]
        registered = {u.id for u in in_scope if set(tenant.registration_details[u.id]["methodsRegistered"]) - NOT_MFA}
        enforced = [u for u in in_scope if u.id in enforced_ids]
        protected = [u for u in enforced if u.id in registered]
        snapshot = next(s for s in PostureSnapshot.objects.all() if any(r["graph_id"] == in_scope[0].id for r in s.users))
        m = snapshot.metrics
        assert (m["enforced"], m["protected"], m["enforcement_denominator"]) == (len(enforced), len(protected), len(in_scope)), domain
        assert m["enforced_pct"] == (len(enforced) * 1000 // len(in_scope)) / 10
        assert m["mfa_registered"] == len(registered)
    totals = [s.metrics for s in PostureSnapshot.objects.all()]
    # The data really separates the three figures: some registered users are not enforced, and the reverse.
    assert sum(t["protected"] for t in totals) < sum(t["mfa_registered"] for t in totals)
    assert sum(t["protected"] for t in totals) < sum(t["enforced"] for t in totals)


@pytest.mark.django_db(transaction=True)
def test_security_defaults_enforce_every_user():
    running = start(security_defaults=True)
    try:
        run_sync(running)
    finally:
        running.stop()
    for snapshot in PostureSnapshot.objects.all():
        in_scope = [r for r in snapshot.users if r["in_scope"]]
        assert in_scope and all(r["enforcement"]["reason"] == "security_defaults" for r in in_scope)
        assert snapshot.metrics["enforced"] == snapshot.metrics["in_scope"]
        assert snapshot.provenance["enforcement"]["security_defaults"]["isEnabled"] is True


@pytest.mark.django_db(transaction=True)
def test_without_policy_read_all_everything_works_and_says_registration_only():
    running = start(permissions=ALL_SIX)
    try:
        run_sync(running)
        assert not running.simulator.requests_for("/conditionalAccess/")  # not even tried
    finally:
        running.stop()
    for snapshot in PostureSnapshot.objects.all():
        assert snapshot.metrics["enforcement_mode"] == "registration_only"
        assert snapshot.metrics["enforced_pct"] is None and snapshot.metrics["protected_pct"] is None
        assert snapshot.metrics["coverage_pct"] is not None or snapshot.metrics["in_scope"] == 0
        assert all(r["enforcement"]["state"] == "unknown" and r["protected"] is None for r in snapshot.users)
        assert "Policy.Read.All is not granted" in snapshot.provenance["enforcement"]["why_registration_only"]


@pytest.mark.django_db(transaction=True)
def test_beta_per_user_api_absent_is_survived_and_said(sim):
    sim.simulator.faults.set("beta_unavailable")
    tenant = sim.simulator.tenant
    run_sync(sim)
    rows = rows_by_id()
    record = rows[tenant.enforcement_cases["per_user_enforced"]][1]["enforcement"]
    assert (record["state"], record["reason"]) == ("not_enforced", "no_policy")
    assert "per-user MFA state could not be read" in record["detail"]
    snapshot = rows[tenant.enforcement_cases["per_user_enforced"]][0]
    assert "could not be read" in snapshot.provenance["enforcement"]["per_user_mfa"]["note"]
    # Everything the v1.0 policies decide is still there.
    assert rows[tenant.enforcement_cases["report_only"]][1]["enforcement"]["reason"] == "report_only"


@pytest.mark.django_db(transaction=True)
def test_conditional_access_reads_are_paced_and_each_group_read_once(sim):
    add_customers(sim.simulator.tenant)
    sleeps = []
    now = [1000.0]
    client = client_for(sim, sleeps=sleeps, clock=lambda: now[0])  # a frozen clock: every policy read must wait
    sim.simulator.clear_requests()
    posture_sync(client=client)
    policy_reads = sim.simulator.requests_for("/identity/conditionalAccess/policies")
    assert len(policy_reads) == 2  # 8 policies, 5 a page: the nextLink was followed
    # Two policy pages, the strengths and Security Defaults: three waits of a full second.
    assert sleeps.count(1.0) == 3 and client.policy_paced_seconds == 3.0
    members = [r["path"] for r in sim.simulator.requests_for("/transitiveMembers")]
    # All Staff and Break Glass (named by policies) and the role-assignable group, each once (Finance is nested).
    assert len(members) == len(set(members)) == 3


@pytest.mark.django_db(transaction=True)
def test_policy_read_failing_falls_back_to_registration_only(sim):
    # The token holds Policy.Read.All but Graph keeps answering 429: still a successful, registration-only run.
    sim.simulator.faults.set("throttle", path="/identity/conditionalAccess", retry_after=0)
    run = run_sync(sim)
    assert run.outcome == PostureRun.Outcome.SUCCESS
    snapshot = PostureSnapshot.objects.first()
    assert snapshot.metrics["enforcement_mode"] == "registration_only"
    assert "next run tries again" in snapshot.provenance["enforcement"]["why_registration_only"]


# ------------------------------------------------------------------ pages and CSV


def customer_of_case(tenant, case):
    from security.models import DirectoryUser

    return DirectoryUser.objects.get(graph_id=tenant.enforcement_cases[case]).customer


@pytest.mark.django_db(transaction=True)
def test_hub_security_page_and_csv_show_registered_enforced_protected_with_denominators(sim, viewer_client):
    import csv
    import io

    tenant = sim.simulator.tenant
    run_sync(sim)
    customer = customer_of_case(tenant, "report_only")
    m = PostureSnapshot.objects.get(customer=customer).metrics
    hub = viewer_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "Mode:</strong> Enforcement read" in hub
    assert f"{m['enforced']} of {m['enforcement_denominator']} in-scope users" in hub
    assert f"{m['protected']} of {m['enforcement_denominator']} in-scope users registered and enforced" in hub
    assert "Policy is report-only (not enforced): CA003: MFA pilot" in hub
    assert 'class="trend-line trend-protected"' in hub  # the protected % has its own trend line
    page = viewer_client.get(f"/security/customers/{customer.pk}/?show=not_enforced").content.decode()
    assert "CA003: MFA pilot" in page and "Mode:</strong> Enforcement read" in page
    rollup = viewer_client.get("/security/").content.decode()
    assert "MFA protected" in rollup and "Enforcement read for" in rollup and "Registration only for" not in rollup
    body = b"".join(viewer_client.get("/security/export.csv").streaming_content).decode()
    row = next(r for r in csv.DictReader(io.StringIO(body)) if r["customer_id"] == str(customer.pk))
    assert row["enforcement_mode"] == "enforcement"
    assert (row["mfa_enforced_count"], row["mfa_protected_count"], row["enforcement_denominator"]) == (
        str(m["enforced"]), str(m["protected"]), str(m["enforcement_denominator"]))
    assert row["mfa_protected"] == str(m["protected_pct"])


@pytest.mark.django_db(transaction=True)
def test_pages_say_registration_only_without_policy_read_all(viewer_client):
    import csv
    import io

    running = start(permissions=ALL_SIX)
    try:
        run_sync(running)
    finally:
        running.stop()
    snapshot = PostureSnapshot.objects.exclude(users=[]).first()
    hub = viewer_client.get(f"/customers/{snapshot.customer_id}/").content.decode()
    assert "Mode:</strong> Registration only — registered % only." in hub and "Policy.Read.All is not granted" in hub
    assert "Not read: registration only" in hub and "MFA enforced</th>" not in hub
    rollup = viewer_client.get("/security/").content.decode()
    assert "Registration only for" in rollup
    body = b"".join(viewer_client.get("/security/export.csv").streaming_content).decode()
    row = next(csv.DictReader(io.StringIO(body)))
    assert row["enforcement_mode"] == "registration_only" and row["mfa_enforced"] == "" and row["mfa_protected"] == ""


# ------------------------------------------------------------------ evidence packs


@pytest.mark.django_db(transaction=True)
def test_pack_proves_enforcement_and_is_byte_identical_on_rebuild(sim):
    import json as jsonlib

    from compliance.controls import CMMC, HIPAA, SOC2
    from compliance.packs import build_pack, pack_source
    from compliance.verify import verify_pack
    from tests.compliance.test_compliance_packs import csv_rows, pdf_text

    tenant = sim.simulator.tenant
    run_sync(sim)
    customer = customer_of_case(tenant, "report_only")
    snapshot = PostureSnapshot.objects.select_related("customer").get(customer=customer)
    for framework, refs in ((SOC2, ("CC6.1",)), (HIPAA, ("164.312(d)",)), (CMMC, ("IA.L2-3.5.3[c]", "IA.L2-3.5.3[d]"))):
        pack = build_pack(pack_source(snapshot, framework))
        assert pack.data == build_pack(pack_source(snapshot, framework)).data
        assert {"enforcement.csv", "conditional_access_policies.json", "conditional_access_policies.csv",
                "methodology.txt"} <= set(pack.files)
        controls = {r["control_id"]: r for r in csv_rows(pack.files["controls.csv"])}
        for ref in refs:
            assert "Protected (MFA registered AND enforced at sign-in)" in controls[ref]["figure"], ref
        assert verify_pack(pack.data).ok
    enforcement = {r["user_principal_name"]: r for r in csv_rows(pack.files["enforcement.csv"])}
    report_only = next(r for r in snapshot.users if r["graph_id"] == tenant.enforcement_cases["report_only"])
    row = enforcement[report_only["upn"]]
    assert row["enforcement_state"] == "not_enforced" and row["policy_name"] == "CA003: MFA pilot"
    assert row["reason"] == "Policy is report-only (not enforced)" and row["protected"] == "not protected"
    policies = jsonlib.loads(pack.files["conditional_access_policies.json"])
    names = [p["displayName"] for p in policies["mfa_policies"]]
    assert "CA003: MFA pilot" in names and "CA008: Block legacy authentication" not in names
    assert policies["security_defaults"]["isEnabled"] is False
    assert policies["authentication_strengths"][0]["displayName"] == "Phishing-resistant MFA"
    table = {r["name"]: r for r in csv_rows(pack.files["conditional_access_policies.csv"])}
    assert table["CA003: MFA pilot"]["state"] == "enabledForReportingButNotEnforced"
    assert "compliant device" in table["CA005: MFA or compliant device"]["non_mfa_alternatives"]
    methodology = pack.files["methodology.txt"].decode()
    assert "beta" in methodology and "Policy.Read.All" in methodology and DEMO_CLIENT_ID in methodology
    assert "/identity/conditionalAccess/policies" in methodology
    assert "MFA enforcement" in pdf_text(pack.files["report.pdf"])


@pytest.mark.django_db(transaction=True)
def test_pack_without_policy_read_all_says_enforcement_could_not_be_evidenced():
    from compliance.controls import SOC2
    from compliance.packs import build_pack, pack_source
    from tests.compliance.test_compliance_packs import csv_rows

    running = start(permissions=ALL_SIX)
    try:
        run_sync(running)
    finally:
        running.stop()
    snapshot = PostureSnapshot.objects.select_related("customer").exclude(users=[]).first()
    pack = build_pack(pack_source(snapshot, SOC2))
    assert "enforcement.csv" not in pack.files and "methodology.txt" not in pack.files
    row = {r["control_id"]: r for r in csv_rows(pack.files["controls.csv"])}["CC6.1"]
    assert row["result"] != "Met" and "Enforcement could not be evidenced" in row["why"]


# ------------------------------------------------------------------ privileged roles in full


@pytest.mark.django_db(transaction=True)
def test_role_group_members_and_pim_eligible_users_count_as_privileged_shown_apart(viewer_client):
    running = start(permissions=(*WITH_POLICY_READ, "RoleEligibilitySchedule.Read.Directory"))
    try:
        tenant = running.simulator.tenant
        run_sync(running)
    finally:
        running.stop()
    rows = rows_by_id()
    via_snapshot, via = rows[tenant.privileged_cases["via_group"]]
    assert via["privileged_roles"] == [{"template_id": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
                                        "name": "Helpdesk Administrator", "via": "MSP Tier 2 Admins"}]
    eligible_snapshot, eligible = rows[tenant.privileged_cases["eligible"]]
    assert eligible["privileged_roles"] == [{"template_id": "62e90394-69f5-4237-9190-012177145e10",
                                             "name": "Global Administrator", "assignment": "eligible"}]
    assert eligible_snapshot.metrics["privileged_eligible_only"] >= 1
    assert eligible_snapshot.provenance["eligible_roles"]["read"] is True
    # Service principals in roles are never users; the group is listed apart and expanded.
    assert via_snapshot.provenance["role_members_not_users"] == {"group": 1, "servicePrincipal": 1}
    holders = {h["name"]: h for h in via_snapshot.provenance["role_holders_not_users"]}
    assert holders["Mail Migration Tool"]["kind"] == "servicePrincipal"
    assert holders["Mail Migration Tool"]["roles"] == ["Exchange Administrator"]
    assert holders["MSP Tier 2 Admins"]["kind"] == "group"
    page = viewer_client.get(f"/security/customers/{via_snapshot.customer_id}/?show=privileged").content.decode()
    assert "Helpdesk Administrator (via MSP Tier 2 Admins)" in page
    assert "Mail Migration Tool" in page and "listed apart from users" in page
    page = viewer_client.get(f"/security/customers/{eligible_snapshot.customer_id}/?show=privileged").content.decode()
    assert "Global Administrator (PIM eligible, not active)" in page


@pytest.mark.django_db(transaction=True)
def test_without_the_pim_permission_eligible_roles_are_not_read_and_that_is_said(sim):
    tenant = sim.simulator.tenant
    run_sync(sim)
    snapshot, eligible = rows_by_id()[tenant.privileged_cases["eligible"]]
    assert eligible["privileged_roles"] == []
    assert snapshot.provenance["eligible_roles"]["read"] is False
    assert "RoleEligibilitySchedule.Read.Directory" in snapshot.provenance["eligible_roles"]["note"]


@pytest.mark.django_db
def test_pack_survives_odd_enforcement_provenance():
    """A snapshot whose recorded enforcement data is not the shape we write still gives a pack."""
    from compliance.controls import SOC2
    from compliance.packs import build_pack, pack_source
    from customers.models import Customer
    from tests.factories import ENFORCED_PROVENANCE, all_covered, make_snapshot

    customer = Customer.objects.create(name="Odd")
    odd = dict(ENFORCED_PROVENANCE, enforcement={"mfa_policies": 3, "authentication_strengths": "x", "endpoints": [1, None],
                                                 "security_defaults": [], "groups_resolved": {"g": "x"}, "per_user_mfa": 5},
               exceptions={"in_force": "x", "expired": [None]})
    pack = build_pack(pack_source(make_snapshot(customer, all_covered(), provenance=odd), SOC2))
    assert "methodology.txt" in pack.files and "not recorded" in pack.files["methodology.txt"].decode()


@pytest.mark.django_db(transaction=True)
def test_a_policy_naming_a_deleted_group_is_read_and_said(sim):
    tenant = sim.simulator.tenant
    del tenant.groups[tenant.group_ids["break_glass"]]  # deleted in Entra, still named by CA001
    run_sync(sim)
    snapshot, row = rows_by_id()[tenant.enforcement_cases["excluded_group"]]
    assert row["enforcement"]["state"] == "enforced"  # no longer excluded: the group is gone
    resolved = snapshot.provenance["enforcement"]["groups_resolved"][tenant.group_ids["break_glass"]]
    assert resolved == {"name": f"{tenant.group_ids['break_glass']} (deleted group)", "users": 0}
    names = [r for r in sim.simulator.requests if r["path"] == "/v1.0/groups"]
    assert len(names) == 1 and names[0]["query"]["$filter"].startswith("id in (")  # one filtered request names them
