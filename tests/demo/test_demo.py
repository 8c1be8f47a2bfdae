"""The README's run command: the demo seeds users, customers and the connection,
tests it and syncs, so every feature has data after signing in."""

from django.urls import reverse

from accounts.models import User
from customers.models import Customer, Message
from demo.first_sync import demo_first_sync
from demo.seed import DEMO_PASSWORD, demo_customer_tenants_add, demo_seed
from graphsim import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from integrations.graph import tokens
from integrations.posture.tenant_posture import tenant_posture_collect
from integrations.setup.connection import connection_get
from security.models import CustomerTenant, PostureSnapshot


def test_demo_seeds_connects_and_syncs(db, graph_sim, client):
    demo_seed(tenant=graph_sim.simulator.tenant, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET)
    output = demo_first_sync()
    assert "Connected to Contoso MSP Ltd — 4 mailboxes configured" in output
    assert connection_get().last_test_ok is True
    assert Message.objects.count() > 50
    assert PostureSnapshot.objects.count() >= 6
    # Seeding again (a restart with --keep-data) changes nothing.
    demo_seed(tenant=graph_sim.simulator.tenant, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET)
    assert Customer.objects.count() == 9
    assert client.login(username="tech", password=DEMO_PASSWORD)
    northwind = Customer.objects.get(name="Northwind Traders")
    page = client.get(reverse("customers:hub", args=[northwind.pk])).content.decode()
    assert "last email" in page and "MFA coverage" in page


def test_demo_links_two_customers_to_their_own_tenants_and_matches_the_rest_by_domain(db, graph_sim, client):
    demo_customer_tenants_add(graph_sim.simulator)
    demo_seed(tenant=graph_sim.simulator.tenant, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET)
    output = demo_first_sync(admin=User.objects.get(username="admin"))
    assert "Northwind Traders from its own tenant: success" in output
    assert "Adatum Corporation from its own tenant: success" in output
    sources = {s.customer.name: s.provenance["source"]["kind"] for s in PostureSnapshot.objects.select_related("customer")}
    assert sources["Northwind Traders"] == sources["Adatum Corporation"] == "customer_tenant"
    assert sources["Tailspin Toys"] == "msp_tenant"
    assert not CustomerTenant.objects.filter(customer__name="Alpine Ski House").exclude(tenant_id="").exists()
    # Revoking one tenant's consent in the simulator fails only that customer, with a clear message.
    adatum = CustomerTenant.objects.get(customer__name="Adatum Corporation")
    graph_sim.simulator.customer_consent_revoke(adatum.tenant_id)
    tokens.forget_token_apps()
    assert tenant_posture_collect(customer_id=adatum.customer_id) == "failed"
    northwind = CustomerTenant.objects.get(customer__name="Northwind Traders")
    assert tenant_posture_collect(customer_id=northwind.customer_id) == "success"
    adatum.refresh_from_db()
    assert "no consent for Vectis (AADSTS700016)" in adatum.last_error and adatum.last_error_fix
    assert client.login(username="admin", password=DEMO_PASSWORD)
    page = client.get(reverse("security:rollup")).content.decode()
    assert page.count("Last collection failed") == 1
