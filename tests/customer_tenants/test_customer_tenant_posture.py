"""Posture read from each linked customer's own tenant, one app for all
tenants, runs that fail alone. Real database, the simulator over HTTPS with
three tenants (the MSP's, Northwind's and Fabrikam's), real MSAL, the real
Celery tasks (eager)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from customers.models import Customer
from graphsim import customer_tenant_spec
from integrations import tasks
from integrations.graph import tokens
from integrations.posture.posture_sync import posture_collect
from integrations.posture.tenant_posture import tenant_posture_collect
from integrations.posture.tenant_services import tenant_link_by_id, tenant_unlink
from integrations.setup.connection import connection_get
from security.models import CustomerTenant, DirectoryUser, PostureSnapshot
from tests.factories import make_user

NORTHWIND = "1a1a1a1a-0000-4000-8000-000000000001"
FABRIKAM = "2b2b2b2b-0000-4000-8000-000000000002"
MAIL_PATHS = ("/messages", "/mailfolders", "/calendar", "/events")


@pytest.fixture
def linked(m365_connected):
    """Northwind and Fabrikam linked to their own tenants; the other customers matched by domain."""
    sim = m365_connected.simulator
    sim.add_customer_tenant(customer_tenant_spec(tenant_id=NORTHWIND, name="Northwind Traders",
                                                 domain="northwind.example", users=30, seed=21), consented=True)
    sim.add_customer_tenant(customer_tenant_spec(tenant_id=FABRIKAM, name="Fabrikam Inc", domain="fabrikam.example",
                                                 users=9, seed=22, entra_premium=False), consented=True)
    admin = make_user("linker", Role.ADMIN)
    for name, tenant_id in (("Northwind", NORTHWIND), ("Fabrikam", FABRIKAM)):
        report = tenant_link_by_id(actor=admin, customer=Customer.objects.get(name=name), tenant_id=tenant_id)
        assert report.ok, report.headline
    tokens.forget_token_apps()
    sim.clear_requests()
    return m365_connected


def _snapshot(name):
    return PostureSnapshot.objects.filter(customer__name=name).order_by("-taken_on").first()


def _truth(sim, tenant_id):
    users = sim.customers.get(tenant_id).tenant.users
    members = [u for u in users if u.graph["userType"] == "Member"]
    return {
        "ids": {u.id for u in users},
        "in_scope": sum(1 for u in members if u.graph["accountEnabled"]),
        "disabled": sum(1 for u in members if not u.graph["accountEnabled"]),
        "guests": len(users) - len(members),
    }


def _collect_all():
    tasks.sync_posture.apply()  # the MSP tenant's collection, fanning out one task per linked tenant


def test_linked_customer_population_is_its_own_tenant(linked):
    _collect_all()
    sim = linked.simulator
    truth = _truth(sim, NORTHWIND)
    snapshot = _snapshot("Northwind")
    assert {u["graph_id"] for u in snapshot.users} == truth["ids"]
    assert snapshot.metrics["in_scope"] == truth["in_scope"] > 0
    assert snapshot.metrics["excluded_disabled"] == truth["disabled"] > 0
    assert snapshot.metrics["excluded_guests"] == truth["guests"] > 0
    assert snapshot.provenance["source"]["kind"] == "customer_tenant"
    assert snapshot.provenance["tenant_id"] == NORTHWIND
    assert "Northwind Traders" in snapshot.provenance["source"]["label"]
    # Northwind's users in the MSP's own tenant are no longer matched to it.
    msp_northwind = {u.id for u in sim.tenant.users if u.customer_domain == "northwind.example"}
    assert msp_northwind and not msp_northwind & {u["graph_id"] for u in snapshot.users}


def test_unlinked_customers_keep_domain_matching_in_the_msp_tenant(linked):
    _collect_all()
    sim = linked.simulator
    tailspin = _snapshot("Tailspin")
    assert tailspin.provenance["source"]["kind"] == "msp_tenant"
    assert tailspin.provenance["tenant_id"] == sim.tenant.spec.tenant_id
    expected = {u.id for u in sim.tenant.users if u.customer_domain == "tailspin.example"}
    assert {u["graph_id"] for u in tailspin.users} == expected


def test_msp_run_after_tenant_run_leaves_linked_customers_alone(linked):
    tenant_posture_collect(customer_id=Customer.objects.get(name="Northwind").pk)
    before = _snapshot("Northwind")
    users_before = DirectoryUser.objects.filter(customer__name="Northwind").count()
    posture_collect(connection=connection_get())
    after = _snapshot("Northwind")
    assert after.provenance == before.provenance and after.metrics == before.metrics
    assert DirectoryUser.objects.filter(customer__name="Northwind").count() == users_before > 0


def test_licence_differs_per_tenant(linked):
    _collect_all()
    assert _snapshot("Fabrikam").provenance["mfa_source"] == "methods"  # no Entra ID P1 there
    assert _snapshot("Northwind").provenance["mfa_source"] == "report"


def test_customer_tenants_are_never_read_for_mail(linked):
    _collect_all()
    sim = linked.simulator
    customer_tenant_requests = [r for r in sim.requests if r.get("tenant") in (NORTHWIND, FABRIKAM)]
    graph = [r for r in customer_tenant_requests if r["path"].startswith("/v1.0")]
    assert graph, "the tenants were read"
    assert not [r["path"] for r in graph if any(p in r["path"].lower() for p in MAIL_PATHS)]


def test_one_msal_application_per_tenant_with_the_same_credentials(linked):
    _collect_all()
    _collect_all()
    sim = linked.simulator
    token_posts = [r for r in sim.requests if r["path"].endswith("/oauth2/v2.0/token")]
    per_tenant = {}
    for r in token_posts:
        per_tenant[r["tenant"]] = per_tenant.get(r["tenant"], 0) + 1
    # Two full rounds, one token per tenant: MSAL's cache per authority served the second.
    assert per_tenant == {sim.tenant.spec.tenant_id: 1, NORTHWIND: 1, FABRIKAM: 1}


def test_revoked_consent_fails_only_that_customer(linked):
    _collect_all()
    sim = linked.simulator
    sim.customer_consent_revoke(FABRIKAM)
    tokens.forget_token_apps()  # tokens expire; a new one is refused
    earlier = _snapshot("Fabrikam").as_of
    _collect_all()
    fabrikam = CustomerTenant.objects.get(customer__name="Fabrikam")
    assert "AADSTS700016" in fabrikam.last_error or "no consent" in fabrikam.last_error
    assert "consent link" in fabrikam.last_error_fix
    assert "trace id" in fabrikam.last_request_id
    assert _snapshot("Fabrikam").as_of == earlier  # its last good data is kept (and shown as stale later)
    northwind = CustomerTenant.objects.get(customer__name="Northwind")
    assert northwind.last_error == "" and northwind.last_success_at > fabrikam.last_success_at


def test_consent_without_policy_read_gives_registration_only(linked):
    sim = linked.simulator
    sim.customer_consent_limit(NORTHWIND, missing=["Policy.Read.All"])
    tokens.forget_token_apps()
    tenant_posture_collect(customer_id=Customer.objects.get(name="Northwind").pk)
    snapshot = _snapshot("Northwind")
    assert "Policy.Read.All" not in snapshot.provenance["permissions_granted"]
    assert snapshot.provenance["enforcement_mode"] == "registration_only"
    assert not [r for r in sim.requests if r.get("tenant") == NORTHWIND and "conditionalAccess" in r["path"]]


def test_unlink_then_domain_matching_resumes(linked):
    _collect_all()
    northwind = Customer.objects.get(name="Northwind")
    tenant_unlink(actor=make_user("unlinker", Role.ADMIN), customer=northwind)
    assert not PostureSnapshot.objects.filter(customer=northwind).exists()
    _collect_all()
    snapshot = _snapshot("Northwind")
    assert snapshot.provenance["source"]["kind"] == "msp_tenant"
    assert {u["graph_id"] for u in snapshot.users} == {
        u.id for u in linked.simulator.tenant.users if u.kind == "customer" and u.customer_domain == "northwind.example"}


def test_every_posture_page_says_which_source(linked, admin_client):
    _collect_all()
    northwind, tailspin = Customer.objects.get(name="Northwind"), Customer.objects.get(name="Tailspin")
    own = "The customer&#x27;s own Microsoft 365 tenant (Northwind Traders)"
    msp = "Matched by UPN domain in the MSP&#x27;s Microsoft 365 tenant"
    for url, expected in ((f"/customers/{northwind.pk}/", own), (f"/customers/{tailspin.pk}/", msp),
                          (f"/security/customers/{northwind.pk}/", own),
                          (f"/compliance/?customer={northwind.pk}", own), (f"/compliance/?customer={tailspin.pk}", msp)):
        page = admin_client.get(url).content.decode()
        assert expected in page, url
    rollup = admin_client.get("/security/").content.decode()
    assert "Source: own tenant" in rollup and "Source: domain match" in rollup


def test_security_flags_stale_data_and_the_failing_tenant(linked, admin_client):
    _collect_all()
    assert "stale</span>" not in admin_client.get("/security/").content.decode()
    PostureSnapshot.objects.filter(customer__name="Fabrikam").update(as_of=timezone.now() - timedelta(days=3))
    linked.simulator.customer_consent_revoke(FABRIKAM)
    tokens.forget_token_apps()
    tenant_posture_collect(customer_id=Customer.objects.get(name="Fabrikam").pk)
    page = admin_client.get("/security/").content.decode()
    fabrikam_row = page[page.index(">Fabrikam<"):][:3000]
    assert "Last collection failed" in fabrikam_row and "AADSTS700016" in fabrikam_row
    assert "stale</span>" in fabrikam_row
    northwind_row = page[page.index(">Northwind<"):][:3000]
    assert "Last collection failed" not in northwind_row.split("</tr>")[0]
    rows = {r["customer"]: r for r in csv.DictReader(io.StringIO(
        b"".join(admin_client.get("/security/export.csv").streaming_content).decode()))}
    assert rows["Fabrikam"]["source"] == "own tenant" and rows["Fabrikam"]["stale"] == "yes"
    assert "AADSTS700016" in rows["Fabrikam"]["last_collection_error"]
    assert rows["Tailspin"]["source"] == "domain match" and rows["Tailspin"]["stale"] == ""


def test_integrations_page_lists_each_linked_tenant_with_its_outcome(linked, admin_client):
    linked.simulator.customer_consent_revoke(FABRIKAM)
    _collect_all()
    section = admin_client.get("/admin/integrations/").content.decode().split('id="customer-tenants"')[1]
    assert "Northwind Traders" in section and FABRIKAM in section
    fabrikam = section[section.index(FABRIKAM):].split("</tr>")[0]
    assert "failed" in fabrikam and "AADSTS700016" in fabrikam and "trace id" in fabrikam
    northwind = section[section.index(NORTHWIND):].split("</tr>")[0]
    assert "tag-ok" in northwind
