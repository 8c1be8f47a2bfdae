"""Every form, filter, the login and the CSV import meet the hostile-input
corpus (tests/hostile_inputs.py): never a 500, and input that no record may
hold is saved nowhere."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role, User
from customers.models import Contact, Customer, CustomerDomain
from integrations.setup.models import M365Connection
from tests.factories import make_user
from tests.hostile_inputs import HOSTILE_FILES, HOSTILE_TEXT

# Text no name (username, customer, contact) may hold.
REFUSED_IN_NAMES = {"nul", "nul-only", "over-long", "huge", "rtl-override", "zero-width", "control"}
# Plain ASCII values that are fine usernames; everything else is refused (or normalises onto "admin", which exists).
ACCEPTABLE_USERNAMES = {"huge-number", "negative", "far-date", "ancient-date", "bad-date"}

def state():
    return (list(User.objects.values_list("password", flat=True)), Customer.objects.count(),
            CustomerDomain.objects.count(), Contact.objects.count(), User.objects.count(),
            M365Connection.objects.count(), list(User.objects.values_list("username", "work_email", "role", "time_zone", "is_active")))


@pytest.fixture
def world(admin_client, admin_user):
    make_user("admin", Role.ADMIN)
    member = make_user("mo", Role.MEMBER)
    customer = Customer.objects.create(name="Northwind")
    CustomerDomain.objects.create(customer=customer, domain="northwind.example")
    return {"client": admin_client, "customer": customer, "member": member}


def forms_to_post(world):
    customer, member = world["customer"], world["member"]
    return {
        "user-create": (reverse("users"), {"username": "newbie", "work_email": "newbie@msp.example", "role": "member",
                                          "time_zone": "", "password": "a-long-enough-password-9"}),
        "user-edit": (reverse("user_edit", args=[member.pk]), {"work_email": member.work_email, "role": "member",
                                                                "time_zone": "", "is_active": "on"}),
        "account": (reverse("account"), {"time_zone": ""}),
        "customer-create": (reverse("customers:create"), {"name": "Fabrikam", "domains": "fabrikam.example", "notes": ""}),
        "customer-edit": (reverse("customers:edit", args=[customer.pk]), {"name": "Northwind", "domains": "", "notes": ""}),
        "contact-add": (reverse("customers:contact_add", args=[customer.pk]), {"name": "Nan", "email": "nan@northwind.example"}),
        "customer-delete": (reverse("customers:delete", args=[customer.pk]), {"confirm_name": "nope"}),
        "m365": (reverse("integrations:m365_configure"), {"tenant_id": "", "client_id": "", "client_secret": "",
                                                          "mailboxes": "", "secret_expires_on": "", "action": "save"}),
        "password-change": (reverse("account"), {"old_password": "x", "new_password1": "a-long-enough-password-9",
                                                  "new_password2": "a-long-enough-password-9"}),
        "password-set": (reverse("user_password", args=[member.pk]), {"new_password1": "a-long-enough-password-9",
                                                                       "new_password2": "other"}),
        "pack-download": (reverse("compliance:download"), {"customer": str(customer.pk), "framework": "soc2", "date": "2025-06-01"}),
    }


FORM_FIELDS = [
    ("user-create", "username"), ("user-create", "work_email"), ("user-create", "role"), ("user-create", "time_zone"),
    ("user-create", "password"), ("user-edit", "work_email"), ("user-edit", "role"), ("user-edit", "time_zone"),
    ("account", "time_zone"), ("customer-create", "name"), ("customer-create", "domains"), ("customer-create", "notes"),
    ("customer-edit", "name"), ("customer-edit", "domains"), ("customer-edit", "notes"), ("contact-add", "name"),
    ("contact-add", "email"), ("customer-delete", "confirm_name"), ("m365", "tenant_id"), ("m365", "client_id"),
    ("m365", "client_secret"), ("m365", "mailboxes"), ("m365", "secret_expires_on"), ("pack-download", "customer"),
    ("pack-download", "framework"), ("pack-download", "date"), ("password-change", "old_password"),
    ("password-change", "new_password1"), ("password-set", "new_password1"), ("password-set", "new_password2"),
]


def must_not_save(form, field, label):
    if form == "user-create" and field == "username":
        return label not in ACCEPTABLE_USERNAMES
    if field in {"name", "username"}:
        return label in REFUSED_IN_NAMES
    if field in {"notes"}:
        return label in {"nul", "nul-only", "huge"}
    # Every other field's corpus value is invalid for it (emails, domains, choices, dates, ids).
    return field not in {"password", "confirm_name"}


@pytest.mark.parametrize("form,field", FORM_FIELDS, ids=[f"{f}.{n}" for f, n in FORM_FIELDS])
def test_forms_never_500_and_save_nothing_bad(world, form, field):
    client = world["client"]
    url, data = forms_to_post(world)[form]
    problems = []
    for label, value in HOSTILE_TEXT:
        before = state()
        response = client.post(url, {**data, field: value})
        if response.status_code >= 500:
            problems.append(f"{label}: {response.status_code}")
        elif must_not_save(form, field, label) and state() != before:
            problems.append(f"{label}: saved")
    assert not problems, problems


FILTERS = [
    ("customers:list", ["q", "page"]),
    ("audit:list", ["user", "action", "customer", "date_from", "date_to", "page"]),
    ("audit:export", ["user", "action", "customer", "date_from", "date_to"]),
    ("security:rollup", ["sort", "order", "page"]),
    ("security:rollup_csv", ["sort", "order"]),
    ("compliance:index", ["customer", "framework", "date"]),
]


@pytest.mark.parametrize("name,params", FILTERS, ids=[n for n, _ in FILTERS])
def test_filters_never_500(world, name, params):
    client = world["client"]
    problems = []
    for label, value in HOSTILE_TEXT:
        for param in params:
            response = client.get(reverse(name), {param: value})
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
            if response.status_code >= 500:
                problems.append(f"{param}={label}")
    assert not problems, problems


def test_hub_and_posture_paging_never_500(world):
    client, customer = world["client"], world["customer"]
    for label, value in HOSTILE_TEXT:
        for url in (reverse("customers:hub", args=[customer.pk]), reverse("security:customer", args=[customer.pk])):
            for param in ("page", "show"):
                assert client.get(url, {param: value}).status_code < 500, (url, param, label)


def test_invalid_utf8_in_a_query_string_is_not_a_500(world):
    for name, _ in FILTERS:
        response = world["client"].get(reverse(name), QUERY_STRING="q=%FF%FE&date_to=%C0%AF&sort=%00")
        assert response.status_code < 500


@pytest.mark.parametrize("field", ["username", "password"])
def test_login_never_500(client, admin_user, field):
    for label, value in HOSTILE_TEXT:
        data = {"username": "ada", "password": "wrong", field: value}
        response = client.post(reverse("login"), data, REMOTE_ADDR=f"192.0.2.{len(label)}")
        assert response.status_code < 500 and "_auth_user_id" not in client.session, label


def test_csv_import_never_500_and_saves_nothing(world):
    client = world["client"]
    before = state()
    for label, content in HOSTILE_FILES:
        upload = SimpleUploadedFile("customers.csv", content, content_type="text/csv")
        response = client.post(reverse("customers:import"), {"file": upload})
        assert response.status_code < 500, label
        confirm = client.post(reverse("customers:import"), {"confirm": "1"})
        assert confirm.status_code < 500, label
        assert state() == before, label
