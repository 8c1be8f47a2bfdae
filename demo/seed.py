"""The demo: a simulated tenant and a database filled to match it, so a
newcomer sees every feature after signing in, with no other step."""

from django.conf import settings
from django.db import transaction

from accounts.models import Role, User
from customers.models import Contact, CustomerDomain
from customers.services import customer_create
from graphsim import customer_tenant_spec
from integrations.posture.tenant_services import tenant_link_by_id
from integrations.setup.services import connection_save

DEMO_PASSWORD = "vectis-demo-password"
# The demo's last technician runs a busy helpdesk inbox: past Graph's
# 5,000-message cap on a filtered delta round, so the Integrations page shows
# a capped read completed by listing the folder.
DEMO_BUSY_INBOX_MESSAGES = 6000
CUSTOMER_NAMES = {
    "northwind": "Northwind Traders",
    "fabrikam": "Fabrikam, Inc.",
    "tailspin": "Tailspin Toys",
    "wingtip": "Wingtip Toys",
    "adatum": "Adatum Corporation",
    "litware": "Litware, Inc.",
    "hostile-mail-test": "Hostile Mail Test (attack samples)",
}
EXTRA_CUSTOMERS = [  # customers with no Microsoft 365 activity, as every MSP has
    ("Alpine Ski House", "alpineskihouse.example"),
    ("Blue Yonder Airlines", "blueyonder.example"),
    ("Coho Winery", "cohowinery.example"),
]


# Customers with a Microsoft 365 tenant of their own: (customer domain, tenant id,
# tenant name, member users, Entra ID P1, consented when the demo starts).
# Two are linked at start; Alpine Ski House waits for the admin to follow the
# consent link (Customers → Alpine Ski House → Link Microsoft 365 tenant).
# Every other customer is matched by UPN domain in the MSP's tenant.
DEMO_CUSTOMER_TENANTS = [
    ("northwind.example", "8d2f6a41-3c5e-4b7a-9f10-2e4d6c8a0b11", "Northwind Traders", 48, True, True),
    ("adatum.example", "c41e9b07-7a2d-4f3c-8e65-1b9d0f2a7c22", "Adatum Corporation", 27, False, True),
    ("alpineskihouse.example", "e7a05c93-1f4b-4d8e-a2c6-9b3f5d1e8a33", "Alpine Ski House", 18, True, False),
]


def demo_customer_tenants_add(simulator):
    """The customers' own tenants, in the simulator next to the MSP's."""
    for seed, (domain, tenant_id, name, users, premium, consented) in enumerate(DEMO_CUSTOMER_TENANTS, start=31):
        simulator.add_customer_tenant(customer_tenant_spec(tenant_id=tenant_id, name=name, domain=domain, users=users,
                                                           seed=seed, entra_premium=premium, showcase=True),
                                      consented=consented)


def demo_customer_tenants_link(*, actor):
    """Link the customers whose tenant already consented (as "Consent granted elsewhere?" does)."""
    linked = []
    for domain, tenant_id, *_rest, consented in DEMO_CUSTOMER_TENANTS:
        row = CustomerDomain.objects.select_related("customer").filter(domain=domain).first()
        if consented and row is not None and tenant_link_by_id(actor=actor, customer=row.customer,
                                                               tenant_id=tenant_id).token_ok:
            linked.append(row.customer)
    return linked


def point_settings_at(running):
    """Send this process's Graph and Entra calls to the simulator."""
    settings.VECTIS_GRAPH_BASE_URL = running.graph_base_url
    settings.VECTIS_LOGIN_BASE_URL = running.login_base_url
    settings.VECTIS_GRAPH_CA_BUNDLE = running.ca_path


@transaction.atomic
def demo_seed(*, tenant, client_id, client_secret):
    spec = tenant.spec
    technicians = spec.technician_upns()
    admin = _user("admin", Role.ADMIN, f"admin@{spec.msp_domain}")
    _user("tech", Role.MEMBER, technicians[0])
    _user("auditor", Role.VIEWER, f"auditor@{spec.msp_domain}")
    for domain in spec.customer_domains:
        name = CUSTOMER_NAMES.get(domain.split(".")[0], domain.split(".")[0].title())
        if not CustomerDomain.objects.filter(domain=domain).exists():
            customer_create(actor=admin, name=name, domains=[domain], notes="Demo customer (simulated tenant).")
    for name, domain in EXTRA_CUSTOMERS:
        if not CustomerDomain.objects.filter(domain=domain).exists():
            customer_create(actor=admin, name=name, domains=[domain])
    for user in tenant.users:
        customer = _customer_for(user.upn) if user.kind == "customer" else None
        if customer and user.graph.get("accountEnabled") and customer.contacts.count() < 2:
            Contact.objects.get_or_create(customer=customer, email=user.upn.lower(),
                                          defaults={"name": user.graph.get("displayName") or user.upn})
    return connection_save(actor=admin, tenant_id=spec.tenant_id, client_id=client_id, client_secret=client_secret,
                           mailboxes=technicians, secret_expires_on=None)


def _user(username, role, email):
    user = User.objects.filter(username=username).first()
    if user is None:
        user = User.objects.create_user(username=username, password=DEMO_PASSWORD, work_email=email, role=role)
    return user


def _customer_for(upn):
    domain = upn.rsplit("@", 1)[-1].lower()
    row = CustomerDomain.objects.select_related("customer").filter(domain=domain).first()
    return row.customer if row else None
