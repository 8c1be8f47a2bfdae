"""Every URL the project defines, requested as anonymous, viewer, member and admin.

A new URL pattern without a row here fails `test_every_url_is_in_the_matrix`,
and a view whose decorator disagrees with its row fails too, so access rules
cannot drift silently.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Role
from customers.models import (
    Contact,
    Customer,
    CustomerDomain,
    Event,
    EventCustomer,
    EventHolder,
    EventParticipant,
    Message,
    MessageCustomer,
    MessageHolder,
    MessageParticipant,
)
from tests.factories import make_user

ANY = {"admin", "member", "viewer"}
ADMIN = {"admin"}
PUBLIC = "public"

# url name -> roles allowed (or PUBLIC). Kwargs are filled from the fixture objects.
MATRIX = {
    "home": ANY,
    "login": PUBLIC,
    "logout": PUBLIC,
    "healthz": PUBLIC,
    "account": ANY,
    "users": ADMIN,
    "user_edit": ADMIN,
    "user_password": ADMIN,
    "audit:list": ADMIN,
    "audit:export": ADMIN,
    "customers:list": ANY,
    "customers:create": ADMIN,
    "customers:import": ADMIN,
    "customers:hub": ANY,
    "customers:message_body": ANY,
    "customers:event_body": ANY,
    "customers:edit": ADMIN,
    "customers:delete": ADMIN,
    "customers:domain_remove": ADMIN,
    "customers:contact_add": ADMIN,
    "customers:contact_remove": ADMIN,
    "security:rollup": ANY,
    "security:rollup_csv": ANY,
    "security:customer": ANY,
    "security:exceptions": ADMIN,
    "compliance:index": ANY,
    "compliance:download": ANY,
    "compliance:dates": ANY,
    "integrations:index": ADMIN,
    "integrations:m365_configure": ADMIN,
    "integrations:sync_start": ADMIN,
    "integrations:sync_progress": ADMIN,
    "integrations:mailbox_resync": ADMIN,
    "integrations:posture_sync": ADMIN,
    "integrations:customer_tenant": ADMIN,
    "integrations:customer_tenant_callback": ADMIN,
}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _walk(entry.url_patterns, namespace)
        elif isinstance(entry, URLPattern):
            yield f"{prefix}{entry.name}", entry


def project_urls():
    return [(name, pattern) for name, pattern in _walk(get_resolver().url_patterns)
            if not pattern.lookup_str.startswith("django.")]


def test_every_url_is_in_the_matrix():
    names = {name for name, _ in project_urls()}
    assert names - MATRIX.keys() == set(), "add these URLs to the role matrix"
    assert MATRIX.keys() - names == set(), "the matrix lists URLs that no longer exist"


@pytest.mark.parametrize("name,pattern", project_urls(), ids=[n for n, _ in project_urls()])
def test_view_decorator_matches_matrix(name, pattern):
    declared = getattr(pattern.callback, "vectis_roles", None)
    assert declared is not None, f"{name} has no require_role/public decorator"
    expected = MATRIX[name]
    if expected == PUBLIC:
        assert declared == PUBLIC
    else:
        assert set(declared) == {Role(r) for r in expected}


@pytest.fixture
def objects(db):
    customer = Customer.objects.create(name="Northwind")
    domain = CustomerDomain.objects.create(customer=customer, domain="northwind.example")
    contact = Contact.objects.create(customer=customer, name="Nancy", email="nancy@northwind.example")
    other = make_user("other", Role.MEMBER)
    message, event = communications_for(customer, [f"matrix-{role}@msp.example" for role in ("viewer", "member", "admin")])
    return {"customer_id": customer.pk, "domain_id": domain.pk, "contact_id": contact.pk, "user_id": other.pk,
            "message_id": message.pk, "event_id": event.pk}


def communications_for(customer, participant_emails):
    """One message and one event of `customer` in which every address took part."""
    now = timezone.now()
    message = Message.objects.create(identity="m1", internet_message_id="<m1@northwind.example>", subject="VPN down",
                                     received_at=now)
    MessageCustomer.objects.create(message=message, customer=customer, received_at=now)
    copy = MessageHolder.objects.create(message=message, mailbox="jane@msp.example", graph_id="AAMk1", folder="inbox",
                                        direction="received")
    event = Event.objects.create(identity="e1", ical_uid="uid-1", subject="QBR", starts_at=now, ends_at=now)
    EventCustomer.objects.create(event=event, customer=customer, starts_at=now)
    event_copy = EventHolder.objects.create(event=event, mailbox="jane@msp.example", graph_id="AAMkE1")
    for address in participant_emails:
        MessageParticipant.objects.create(holder=copy, message=message, role="to", address=address)
        EventParticipant.objects.create(holder=event_copy, event=event, role="required", address=address)
    return message, event


def _url(name, pattern, objects):
    kwargs = {key: objects[key] for key in pattern.pattern.converters}
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("role", ["anonymous", "viewer", "member", "admin"])
def test_role_matrix(client, objects, role):
    user = make_user(f"matrix-{role}", role) if role != "anonymous" else None
    failures = []
    for name, pattern in project_urls():
        url = _url(name, pattern, objects)
        allowed = MATRIX[name]
        for method in ("get", "post"):
            if user is not None:
                client.force_login(user)  # the logout row signs the user out
            response = getattr(client, method)(url)
            status = response.status_code
            if allowed == PUBLIC:
                ok = status < 500 and status != 403
            elif role == "anonymous":
                ok = status == 302 and response["Location"].startswith(reverse("login"))
            elif role in allowed:
                # 502: a body endpoint reached Graph's stand-in step with no connection configured.
                ok = status in (200, 302, 400, 404, 405, 502) and not (status == 302 and response["Location"].startswith(reverse("login")))
            else:
                ok = status == 403
            if not ok:
                failures.append(f"{method.upper()} {url} as {role}: {status}")
    assert failures == []
