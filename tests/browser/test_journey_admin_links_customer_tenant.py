"""Journey — an admin links a customer to its own Microsoft 365 tenant by admin consent.

Alex (admin) opens Northwind Traders, chooses "Link Microsoft 365 tenant",
creates the admin-consent link and follows it to the (simulated) Microsoft
sign-in and consent page, accepts as Northwind's admin, and is sent back to
Vectis's callback, which checks the signed state, links the tenant and runs
Test. After the tenant's posture collection, the hub says where the posture
came from. The simulator is served over HTTPS with a throwaway CA, so this
browser context accepts its certificate.
"""

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from graphsim import customer_tenant_spec
from integrations.posture.tenant_posture import tenant_posture_collect
from security.models import CustomerTenant

from .conftest import TIMEOUT_MS, Visit

pytestmark = pytest.mark.browser
NORTHWIND_TENANT = "8d2f6a41-3c5e-4b7a-9f10-2e4d6c8a0b11"


def _visit_trusting_the_simulator(chromium, live_server, screenshots):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC",
                                   ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    visit = Visit(label="alex", context=context, page=page, base_url=live_server.url, shots=screenshots)
    page.on("pageerror", lambda error: visit.script_errors.append(str(error)))
    page.on("response", lambda r: r.status >= 500 and visit.server_errors.append(f"{r.status} {r.url}"))
    return visit


def test_admin_links_a_customer_tenant_by_following_the_consent_link(world, chromium, live_server, screenshots):
    world.connect()
    world.sim.add_customer_tenant(customer_tenant_spec(tenant_id=NORTHWIND_TENANT, name="Northwind Traders",
                                                       domain="northwind.example", users=15))
    alex = _visit_trusting_the_simulator(chromium, live_server, screenshots)
    page = alex.page
    try:
        alex.sign_in("alex")
        northwind = Customer.objects.get(name="Northwind Traders")
        page.goto(alex.url(f"/customers/{northwind.pk}/"))
        page.get_by_role("link", name="Link Microsoft 365 tenant →").click()
        expect(page.get_by_role("heading", name="Northwind Traders: Microsoft 365 tenant")).to_be_visible()
        page.get_by_role("button", name="Create the admin-consent link").click()
        alex.shot("consent-link")

        # The customer's admin (here Alex, on a call with them) follows the link to Microsoft.
        page.get_by_role("link", name="Grant Vectis access to the customer's tenant").click()
        expect(page.get_by_role("heading", name="Permissions requested (simulated Microsoft Entra)")).to_be_visible()
        alex.shot("microsoft-consent")
        page.locator("form.tenant", has_text="Northwind Traders").get_by_role("button", name="Accept").click()

        # Back in Vectis: linked and tested.
        expect(page.locator(".flash-success")).to_contain_text("Linked. Connected to Northwind Traders — posture only")
        expect(page.locator(".tenant-linked")).to_contain_text(NORTHWIND_TENANT)
        alex.shot("linked")
        link = CustomerTenant.objects.get(customer=northwind)
        assert link.tenant_id == NORTHWIND_TENANT and link.consent_nonce == ""

        # The next collection reads Northwind's own tenant; the hub names that source.
        assert tenant_posture_collect(customer_id=northwind.pk) == "success"
        page.goto(alex.url(f"/customers/{northwind.pk}/"))
        expect(page.locator("#security-posture .posture-source")).to_contain_text(
            "The customer's own Microsoft 365 tenant (Northwind Traders)")
        alex.shot("hub-own-tenant")
        assert alex.script_errors == [] and alex.server_errors == []
    finally:
        alex.context.close()
