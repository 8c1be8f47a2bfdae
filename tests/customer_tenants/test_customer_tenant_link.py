"""Linking a customer to its own Microsoft 365 tenant by admin consent.

The attacks come first: a forged, replayed, expired or foreign state, a
member or viewer, a declined consent and hostile tenant values must link
nothing. Then the happy path goes through the simulator's real consent
redirect and Test. Real database, real HTTPS simulator, no mocks."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core import signing

from accounts.models import Role
from audit.models import AuditEvent
from customers.models import Customer
from customers.services import customer_create
from graphsim import customer_tenant_spec
from integrations.posture import tenant_services as customer_tenants
from security.models import CustomerTenant, PostureSnapshot
from tests.factories import make_user

NORTHWIND = "1a1a1a1a-0000-4000-8000-000000000001"
CALLBACK = "/admin/integrations/customer-tenants/callback/"


@pytest.fixture
def tenants(m365_connected):
    sim = m365_connected.simulator
    sim.add_customer_tenant(customer_tenant_spec(tenant_id=NORTHWIND, name="Northwind Traders",
                                                 domain="northwind.example", users=12))
    return m365_connected


@pytest.fixture
def northwind(tenants):
    return Customer.objects.get(name="Northwind")


def _page(client, customer):
    return f"/admin/integrations/customer-tenants/{customer.pk}/"


def _consent_url(client, customer):
    response = client.post(_page(client, customer), {"action": "consent_link"})
    assert response.status_code == 200
    return response.context["consent_url"]


def _consent(running, url, tenant_id=NORTHWIND, decline=False):
    """The customer's admin follows the link at the simulator; returns the callback path + query."""
    running.simulator.consent_next(tenant_id, decline=decline)
    session = requests.Session()
    session.trust_env = False
    answer = session.get(url, verify=running.ca_path, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert location.path == CALLBACK
    return f"{location.path}?{location.query}"


def _linked(customer):
    return CustomerTenant.objects.filter(customer=customer).exclude(tenant_id="").first()


# ------------------------------------------------------------------ attacks


def test_consent_link_names_the_app_the_callback_and_a_signed_state(admin_client, tenants, northwind, settings):
    url = _consent_url(admin_client, northwind)
    parts = urlsplit(url)
    assert url.startswith(f"{settings.VECTIS_LOGIN_BASE_URL}/organizations/adminconsent?")
    query = parse_qs(parts.query)
    assert query["redirect_uri"] == [f"http://testserver{CALLBACK}"]
    assert query["client_id"][0]
    state = signing.loads(query["state"][0], salt=customer_tenants.CONSENT_SALT)
    assert state["c"] == northwind.pk
    assert AuditEvent.objects.filter(action="customer_tenant.consent_link", customer_id=northwind.pk).exists()


def test_forged_state_links_nothing(admin_client, tenants, northwind):
    _consent_url(admin_client, northwind)
    forged = signing.dumps({"c": northwind.pk, "u": 1, "n": "guess"}, salt="another-salt")
    response = admin_client.get(CALLBACK, {"admin_consent": "True", "tenant": NORTHWIND, "state": forged})
    assert response.status_code == 400 and b"not started by Vectis" in response.content
    assert _linked(northwind) is None


def test_state_cannot_be_replayed(admin_client, tenants, northwind):
    callback = _consent(tenants, _consent_url(admin_client, northwind))
    assert admin_client.get(callback).status_code == 302
    assert _linked(northwind).tenant_id == NORTHWIND
    before = AuditEvent.objects.filter(action="customer_tenant.link").count()
    again = admin_client.get(callback)
    assert again.status_code == 400 and b"already used" in again.content
    assert AuditEvent.objects.filter(action="customer_tenant.link").count() == before


def test_a_newer_link_voids_the_older_state(admin_client, tenants, northwind):
    first = _consent(tenants, _consent_url(admin_client, northwind))
    _consent_url(admin_client, northwind)
    assert admin_client.get(first).status_code == 400
    assert _linked(northwind) is None


def test_expired_state_links_nothing(admin_client, tenants, northwind, monkeypatch):
    callback = _consent(tenants, _consent_url(admin_client, northwind))
    monkeypatch.setattr(customer_tenants, "CONSENT_MAX_AGE", -1)
    response = admin_client.get(callback)
    assert response.status_code == 400 and b"expired" in response.content
    assert _linked(northwind) is None


def test_state_for_another_customer_links_only_that_customer(admin_client, tenants, northwind):
    fabrikam = Customer.objects.get(name="Fabrikam")
    url = _consent_url(admin_client, fabrikam)
    query = parse_qs(urlsplit(url).query)
    state = signing.loads(query["state"][0], salt=customer_tenants.CONSENT_SALT)
    # Swapping the customer id inside the state breaks the signature.
    tampered = signing.dumps({**state, "c": northwind.pk}, salt="x")
    assert admin_client.get(CALLBACK, {"admin_consent": "True", "tenant": NORTHWIND, "state": tampered}).status_code == 400
    assert admin_client.get(_consent(tenants, url)).status_code == 302
    assert _linked(fabrikam).tenant_id == NORTHWIND and _linked(northwind) is None


def test_state_of_another_admin_is_refused(client, admin_client, tenants, northwind):
    callback = _consent(tenants, _consent_url(admin_client, northwind))
    client.force_login(make_user("eve", Role.ADMIN))
    response = client.get(callback)
    assert response.status_code == 400 and b"another administrator" in response.content
    assert _linked(northwind) is None


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_cannot_link_or_see_the_page(client, tenants, northwind, role, admin_user):
    client.force_login(make_user(f"u-{role}", role))
    assert client.get(_page(client, northwind)).status_code == 403
    assert client.post(_page(client, northwind), {"action": "consent_link"}).status_code == 403
    state = signing.dumps({"c": northwind.pk, "u": admin_user.pk, "n": "x"}, salt=customer_tenants.CONSENT_SALT)
    assert client.get(CALLBACK, {"admin_consent": "True", "tenant": NORTHWIND, "state": state}).status_code == 403
    assert not CustomerTenant.objects.filter(customer=northwind).exclude(consent_nonce="").exists()


def test_declined_consent_is_shown_and_audited(admin_client, tenants, northwind):
    callback = _consent(tenants, _consent_url(admin_client, northwind), decline=True)
    response = admin_client.get(callback)
    assert response.status_code == 400 and b"AADSTS65004" in response.content
    assert _linked(northwind) is None
    assert AuditEvent.objects.filter(action="customer_tenant.consent_declined", customer_id=northwind.pk).exists()


@pytest.mark.parametrize("tenant", ["../../evil", "<script>alert(1)</script>", "", "common", NORTHWIND + "x"])
def test_hostile_tenant_values_link_nothing(admin_client, tenants, northwind, tenant):
    url = _consent_url(admin_client, northwind)
    state = parse_qs(urlsplit(url).query)["state"][0]
    response = admin_client.get(CALLBACK, {"admin_consent": "True", "tenant": tenant, "state": state})
    assert response.status_code == 400 and b"<script>alert" not in response.content
    assert _linked(northwind) is None


def test_hostile_tenant_name_is_escaped(admin_client, m365_connected, northwind):
    evil = "<img src=x onerror=alert(1)>"
    m365_connected.simulator.add_customer_tenant(customer_tenant_spec(
        tenant_id=NORTHWIND, name=evil, domain="northwind.example", users=3))
    admin_client.get(_consent(m365_connected, _consent_url(admin_client, northwind)))
    page = admin_client.get(_page(admin_client, northwind))
    assert evil.encode() not in page.content and b"&lt;img src=x" in page.content


# ------------------------------------------------------------------ the happy path


def test_consent_links_tests_and_offers_domains(admin_client, tenants, northwind):
    response = admin_client.get(_consent(tenants, _consent_url(admin_client, northwind)), follow=True)
    link = _linked(northwind)
    assert link.tenant_id == NORTHWIND and link.tenant_name == "Northwind Traders"
    assert "Directory.Read.All" in link.granted_permissions and "Mail.Read" not in link.granted_permissions
    assert b"Connected to Northwind Traders \xe2\x80\x94 posture only" in response.content
    # Only the tenant's acceptable verified domains are offered, and nothing is added by itself.
    # northwind.example is already the customer's; the tenant's own onmicrosoft.com name is offered.
    assert response.context["offered_domains"] == ["northwind.onmicrosoft.com"]
    assert list(northwind.domains.values_list("domain", flat=True)) == ["northwind.example"]
    event = AuditEvent.objects.get(action="customer_tenant.link", customer_id=northwind.pk)
    assert event.details["tenant_id"] == NORTHWIND and event.details["how"] == "admin_consent"


def test_offered_domain_is_added_only_when_confirmed(admin_client, m365_connected):
    sim = m365_connected.simulator
    sim.add_customer_tenant(customer_tenant_spec(tenant_id=NORTHWIND, name="Alpine", domain="alpine.example",
                                                 users=3, extra_domains=("alpine-ski.example", "gmail.com")), consented=True)
    alpine = customer_create(actor=None, name="Alpine", domains=["alpine.example"])
    admin_client.post(_page(admin_client, alpine), {"action": "link_by_id", "tenant_id": NORTHWIND})
    page = admin_client.get(_page(admin_client, alpine))
    # A free-mail "verified" domain is never offered (customers.domains rules).
    assert page.context["offered_domains"] == ["alpine-ski.example", "alpine.onmicrosoft.com"]
    assert set(alpine.domains.values_list("domain", flat=True)) == {"alpine.example"}
    refused = admin_client.post(_page(admin_client, alpine), {"action": "add_domain", "domain": "evil.example"}, follow=True)
    assert b"Only a verified domain" in refused.content
    admin_client.post(_page(admin_client, alpine), {"action": "add_domain", "domain": "alpine-ski.example"})
    assert set(alpine.domains.values_list("domain", flat=True)) == {"alpine.example", "alpine-ski.example"}


def test_link_by_typed_tenant_id_needs_a_working_sign_in(admin_client, tenants, northwind):
    response = admin_client.post(_page(admin_client, northwind), {"action": "link_by_id", "tenant_id": NORTHWIND})
    assert b"AADSTS700016" in response.content and _linked(northwind) is None  # no consent yet
    bad = admin_client.post(_page(admin_client, northwind), {"action": "link_by_id", "tenant_id": "not-a-guid"})
    assert b"not a tenant ID" in bad.content and _linked(northwind) is None
    tenants.simulator.customers.get(NORTHWIND).granted = ("User.Read.All",)
    partial = admin_client.post(_page(admin_client, northwind), {"action": "link_by_id", "tenant_id": NORTHWIND})
    assert _linked(northwind) is not None
    assert b"missing permissions: Directory.Read.All, UserAuthenticationMethod.Read.All" in partial.content


def test_unlink_is_one_click_audited_and_deletes_stored_posture(admin_client, tenants, northwind):
    admin_client.get(_consent(tenants, _consent_url(admin_client, northwind)))
    PostureSnapshot.objects.create(customer=northwind, taken_on="2026-11-29", as_of="2026-11-29T02:00:00Z")
    response = admin_client.post(_page(admin_client, northwind), {"action": "unlink"}, follow=True)
    assert b"Unlinked" in response.content
    assert _linked(northwind) is None and not PostureSnapshot.objects.filter(customer=northwind).exists()
    event = AuditEvent.objects.get(action="customer_tenant.unlink", customer_id=northwind.pk)
    assert event.details["snapshots_deleted"] == 1


def test_one_tenant_links_to_one_customer(admin_client, tenants, northwind):
    admin_client.get(_consent(tenants, _consent_url(admin_client, northwind)))
    fabrikam = Customer.objects.get(name="Fabrikam")
    response = admin_client.post(_page(admin_client, fabrikam), {"action": "link_by_id", "tenant_id": NORTHWIND})
    assert b"already linked to Northwind" in response.content
    assert _linked(fabrikam) is None


def test_state_expiry_is_real_time(admin_client, tenants, northwind, monkeypatch):
    monkeypatch.setattr(customer_tenants, "CONSENT_MAX_AGE", 1)
    callback = _consent(tenants, _consent_url(admin_client, northwind))
    time.sleep(2.1)
    assert admin_client.get(callback).status_code == 400


def test_configure_page_gives_the_exact_redirect_uri_to_register(admin_client, m365_connected):
    page = admin_client.get("/admin/integrations/microsoft-365/").content.decode()
    assert "multitenant" in page and f"http://testserver{CALLBACK}" in page
