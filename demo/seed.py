"""The demo: a simulated tenant and a database filled to match it, so a
newcomer sees every feature after signing in, with no other step."""

from django.conf import settings
from django.db import transaction

from accounts.models import Role, User
from customers.models import Contact, CustomerDomain
from customers.services import customer_create
from integrations.services import connection_save

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
