"""The README's run command: the demo seeds users, customers and the connection,
tests it and syncs, so every feature has data after signing in."""

from django.urls import reverse

from customers.models import Customer, Message
from demo.first_sync import demo_first_sync
from demo.seed import DEMO_PASSWORD, demo_seed
from graphsim import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from integrations.connection import connection_get
from security.models import PostureSnapshot


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
