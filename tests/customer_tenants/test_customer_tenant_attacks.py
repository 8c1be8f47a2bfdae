"""Attacks on customer-tenant linking found by an outside review (issue 15):
the MSP's own tenant as a customer's, a tenant id with a trailing newline,
one tenant on two customers, the MSP run racing a link, refusals and Test
without audit rows, Unlink leaving a pending consent alive, and domains
offered that Add would refuse. Real database and the HTTPS Graph simulator."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.db import IntegrityError, transaction

from accounts.models import Role
from audit.models import AuditEvent
from customers.models import Customer, OwnDomain
from graphsim import customer_tenant_spec
from integrations.posture import posture_sync as msp_posture
from integrations.posture import tenant_services as customer_tenants
from integrations.posture.tenant_posture import tenant_posture_collect
from integrations.setup.connection import connection_get, graph_client_for
from security.models import CustomerTenant, DirectoryUser, PostureSnapshot
from security.services import posture_collection_store
from tests.factories import make_user

NORTHWIND = "1a1a1a1a-0000-4000-8000-000000000001"
CALLBACK = "/admin/integrations/customer-tenants/callback/"
MAIL_PATHS = ("/messages", "/mailfolders", "/calendar", "/events", "/sendmail")


@pytest.fixture
def tenants(m365_connected):
    m365_connected.simulator.add_customer_tenant(customer_tenant_spec(
        tenant_id=NORTHWIND, name="Northwind Traders", domain="northwind.example", users=12))
    return m365_connected


@pytest.fixture
def northwind(tenants):
    return Customer.objects.get(name="Northwind")


def _page(customer):
    return f"/admin/integrations/customer-tenants/{customer.pk}/"


def _state(client, customer):
    response = client.post(_page(customer), {"action": "consent_link"})
    assert response.status_code == 200
    return parse_qs(urlsplit(response.context["consent_url"]).query)["state"][0]


def _linked(customer):
    return CustomerTenant.objects.filter(customer=customer).exclude(tenant_id="").first()


def _msp_tenant_id(running):
    return running.simulator.tenant.spec.tenant_id




def test_msp_own_tenant_cannot_be_linked_by_tenant_id(admin_client, tenants, northwind):
    """ typing the MSP's own tenant id links it; the customer's posture is then the whole MSP directory."""
    msp = _msp_tenant_id(tenants)
    admin_client.post(_page(northwind), {"action": "link_by_id", "tenant_id": msp})
    assert _linked(northwind) is None, "the MSP's own tenant was linked as Northwind's tenant"


def test_msp_own_tenant_cannot_be_linked_by_consent_callback(admin_client, tenants, northwind):
    """ the callback's `tenant` parameter travels through the customer's hands; set to the MSP tenant it links."""
    state = _state(admin_client, northwind)
    response = admin_client.get(CALLBACK, {"admin_consent": "True", "tenant": _msp_tenant_id(tenants), "state": state})
    assert response.status_code == 400
    assert _linked(northwind) is None


def test_callback_tenant_with_trailing_newline_is_refused_not_a_500(admin_client, tenants, northwind):
    """ TENANT_ID uses `$`, which matches before a final newline: tenant=<guid>%0A passes validation."""
    tenants.simulator.customers.get(NORTHWIND).granted = tuple(customer_tenants.POSTURE_REQUIRED)
    state = _state(admin_client, northwind)
    admin_client.raise_request_exception = False
    response = admin_client.get(CALLBACK, {"admin_consent": "True", "tenant": NORTHWIND + "\n", "state": state})
    link = _linked(northwind)
    assert response.status_code == 400, (response.status_code, link and repr(link.tenant_id))
    assert link is None or "\n" not in link.tenant_id


def test_same_tenant_cannot_be_stored_for_two_customers(tenants, northwind):
    """ only an application check (no unique constraint) stops one tenant linking to two
    customers; two concurrent links (callback + Test and link) both pass it."""
    fabrikam = Customer.objects.get(name="Fabrikam")
    CustomerTenant.objects.create(customer=northwind, tenant_id=NORTHWIND)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerTenant.objects.create(customer=fabrikam, tenant_id=NORTHWIND)


def test_msp_collection_racing_a_link_does_not_overwrite_the_linked_customers_snapshot(admin_client, tenants,
                                                                                      northwind):
    """ the MSP-tenant collection decides its domain matching at its start and stores at its end
    without re-checking links. A customer linked meanwhile gets the MSP tenant's users
    and today's snapshot replaced by MSP-tenant data."""
    tenants.simulator.customers.get(NORTHWIND).granted = tuple(customer_tenants.POSTURE_REQUIRED)
    client = graph_client_for(connection_get())
    collected = msp_posture._collect(client, heartbeat=lambda: None)  # the daily run, still reading
    # Meanwhile the admin links Northwind and its own tenant is collected.
    admin_client.post(_page(northwind), {"action": "link_by_id", "tenant_id": NORTHWIND})
    assert _linked(northwind) is not None
    assert tenant_posture_collect(customer_id=northwind.pk) == "success"
    own_ids = set(DirectoryUser.objects.filter(customer=northwind).values_list("graph_id", flat=True))
    # ...and the MSP run finishes and stores what it read.
    from django.utils import timezone
    posture_collection_store(users=msp_posture._observed_users(collected), as_of=timezone.now(),
                             provenance={"source": msp_posture.MSP_SOURCE})
    client.close()
    after = set(DirectoryUser.objects.filter(customer=northwind).values_list("graph_id", flat=True))
    assert after == own_ids, f"{len(after - own_ids)} MSP-tenant users added to linked Northwind"
    snapshot = PostureSnapshot.objects.filter(customer=northwind).order_by("-taken_on").first()
    assert snapshot.provenance["source"]["kind"] == "customer_tenant"


def test_refused_consent_callbacks_are_audited(client, admin_client, tenants, northwind):
    """ a replayed, forged or another admin's state is refused but leaves no audit row."""
    before = AuditEvent.objects.count()
    forged = signing.dumps({"c": northwind.pk, "u": 1, "n": "x"}, salt="nope")
    assert admin_client.get(CALLBACK, {"admin_consent": "True", "tenant": NORTHWIND, "state": forged}).status_code == 400
    state = _state(admin_client, northwind)
    before = AuditEvent.objects.count()  # the consent_link row is expected
    client.force_login(make_user("eve", Role.ADMIN))
    assert client.get(CALLBACK, {"admin_consent": "True", "tenant": NORTHWIND, "state": state}).status_code == 400
    assert AuditEvent.objects.count() > before, "refused consent callbacks write no audit row"


def test_test_button_that_changes_the_link_is_audited(admin_client, tenants, northwind):
    """ Test rewrites granted_permissions, tenant_name and verified_domains with no audit row."""
    tenants.simulator.customers.get(NORTHWIND).granted = tuple(customer_tenants.POSTURE_REQUIRED)
    admin_client.post(_page(northwind), {"action": "link_by_id", "tenant_id": NORTHWIND})
    tenants.simulator.customers.get(NORTHWIND).granted = ("User.Read.All",)
    before = AuditEvent.objects.count()
    admin_client.post(_page(northwind), {"action": "test"})
    assert _linked(northwind).granted_permissions == ["User.Read.All"]
    assert AuditEvent.objects.count() > before, "the link changed (permissions) without an audit row"


def test_unlink_cancels_a_pending_consent(admin_client, tenants, northwind):
    """ Unlink while a consent is pending says 'Unlinked' but the pending state still links afterwards."""
    state = _state(admin_client, northwind)
    response = admin_client.post(_page(northwind), {"action": "unlink"}, follow=True)
    assert b"pending consent was cancelled" in response.content
    tenants.simulator.customers.get(NORTHWIND).granted = tuple(customer_tenants.POSTURE_REQUIRED)
    admin_client.get(CALLBACK, {"admin_consent": "True", "tenant": NORTHWIND, "state": state})
    assert _linked(northwind) is None, "a consent started before Unlink still linked the tenant"


@pytest.fixture
def hostile(m365_connected):
    OwnDomain.objects.get_or_create(domain="contoso-msp.example", defaults={"source": "admin"})
    m365_connected.simulator.add_customer_tenant(customer_tenant_spec(
        tenant_id=NORTHWIND, name="Northwind Traders", domain="northwind.example", users=3,
        extra_domains=("co.uk", "gmail.com", "contoso-msp.example", "eu.contoso-msp.example", "fabrikam.example",
                       "c\u043entoso-msp.example", "github.io", "evil.github.io")), consented=True)
    return m365_connected


def test_offer_lists_only_domains_that_can_be_added(admin_client, hostile):
    """ the offer shows the MSP's own domain and another customer's domain (Add then fails)."""
    northwind = Customer.objects.get(name="Northwind")
    admin_client.post(_page(northwind), {"action": "link_by_id", "tenant_id": NORTHWIND})
    offered = admin_client.get(_page(northwind)).context["offered_domains"]
    for public in ("co.uk", "gmail.com", "github.io", "xn--cntoso-msp-7jj.example"):
        assert public not in offered  # these rules hold
    assert not {"contoso-msp.example", "eu.contoso-msp.example", "fabrikam.example"} & set(offered), offered


def test_newline_tenant_bypasses_one_tenant_one_customer(admin_client, tenants, northwind):
    """ Fabrikam is linked to Northwind's tenant; a callback with tenant=<same guid>%0A links it to Northwind too."""
    tenants.simulator.customers.get(NORTHWIND).granted = tuple(customer_tenants.POSTURE_REQUIRED)
    fabrikam = Customer.objects.get(name="Fabrikam")
    admin_client.post(_page(fabrikam), {"action": "link_by_id", "tenant_id": NORTHWIND})
    assert _linked(fabrikam).tenant_id == NORTHWIND
    state = _state(admin_client, northwind)
    admin_client.raise_request_exception = False
    admin_client.get(CALLBACK, {"admin_consent": "True", "tenant": NORTHWIND + "\n", "state": state})
    assert _linked(northwind) is None, "one tenant linked to two customers"
