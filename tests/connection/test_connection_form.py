"""Admin → Integrations → Configure Microsoft 365: validation, encryption at rest, audit."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from customers.models import OwnDomain
from integrations.setup import secrets
from integrations.setup.connection import connection_get
from integrations.setup.forms import parse_mailboxes
from integrations.setup.models import M365Connection
from tests.factories import make_customer
from tests.traces import assert_left_no_trace

TENANT = "8a2f5c1e-3b4d-4e6f-9a0b-1c2d3e4f5a6b"
CLIENT = "11111111-2222-3333-4444-555555555555"
SECRET = "Xy8Q~super-secret-value-1234567890abcdef"
URL = "/admin/integrations/microsoft-365/"


def form_data(**overrides):
    data = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": SECRET,
            "mailboxes": "Jane@MSP.example, jack@msp.example", "secret_expires_on": "", "action": "save"}
    data.update(overrides)
    return data


def test_labels_and_buttons_are_the_guides(admin_client):
    body = admin_client.get(URL).content.decode()
    for label in ("Tenant ID", "App Client ID", "Client Secret Value", "Technician Mailboxes"):
        assert f">{label}" in body
    assert ">Test</button>" in body and ">Save</button>" in body


def test_save_encrypts_secret_and_never_renders_it(admin_client, all_logs):
    response = admin_client.post(URL, form_data())
    assert response.status_code == 302
    connection = connection_get()
    assert connection.mailboxes == ["jane@msp.example", "jack@msp.example"]
    assert SECRET not in connection.client_secret_encrypted
    assert secrets.decrypt(connection.client_secret_encrypted) == SECRET
    for page in (URL, reverse("integrations:index")):
        body = admin_client.get(page).content.decode()
        assert SECRET not in body
        assert "Set on" in body or "set on" in body
    row = AuditEvent.objects.get(action="m365.connect")
    assert SECRET not in str(row.details) and row.details["secret_changed"] is True
    assert set(OwnDomain.objects.values_list("domain", flat=True)) == {"msp.example"}
    assert_left_no_trace([SECRET], logs=all_logs)  # every table, the cache, every logger at DEBUG


def test_blank_secret_keeps_the_stored_one(admin_client):
    admin_client.post(URL, form_data())
    before = connection_get().client_secret_encrypted
    admin_client.post(URL, form_data(client_secret="", mailboxes="jane@msp.example"))
    connection = connection_get()
    assert connection.client_secret_encrypted == before
    assert connection.mailboxes == ["jane@msp.example"]
    row = AuditEvent.objects.filter(action="m365.configure").get()
    assert row.details["secret_changed"] is False and row.details["mailboxes_removed"] == ["jack@msp.example"]


@pytest.mark.parametrize("field,value,message", [
    ("tenant_id", "contoso.onmicrosoft.com", "Directory (tenant) ID: a GUID"),
    ("tenant_id", "", "This field is required"),
    ("client_id", "not-a-guid", "Application (client) ID: a GUID"),
    ("client_secret", "", "Paste the client secret Value"),
    ("client_secret", "0f7d4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6", "looks like the Secret ID"),
    ("mailboxes", "", "Enter at least one technician mailbox"),
    ("mailboxes", " , ;\n", "Enter at least one technician mailbox"),
    ("mailboxes", "jane@msp.example, not-an-email", "“not-an-email” is not a mailbox address"),
])
def test_bad_input_is_refused_next_to_the_field_and_nothing_saved(admin_client, field, value, message):
    response = admin_client.post(URL, form_data(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not M365Connection.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="m365.").exists()
    assert SECRET not in response.content.decode()


def test_mailbox_at_a_customer_domain_is_refused(admin_client):
    make_customer("Northwind", "northwind.example")
    response = admin_client.post(URL, form_data(mailboxes="jane@msp.example; bob@eu.northwind.example"))
    assert "bob@eu.northwind.example is at a customer" in response.content.decode()
    assert not M365Connection.objects.exists()


def test_mailbox_list_parsing():
    assert parse_mailboxes("A@x.example, b@x.example;\nC@X.example a@x.example") == ["a@x.example", "b@x.example", "c@x.example"]


def _save(admin_client, expires_on):
    admin_client.post(URL, form_data(secret_expires_on=expires_on.isoformat()))


def test_expiry_banner_from_14_days_before(admin_client):
    today = timezone.localdate()
    _save(admin_client, today + datetime.timedelta(days=20))
    assert "client secret expires" not in admin_client.get(reverse("customers:list")).content.decode()
    _save(admin_client, today + datetime.timedelta(days=14))
    expires = (today + datetime.timedelta(days=14)).strftime("%d %b %Y")
    body = admin_client.get(reverse("customers:list")).content.decode()
    assert f"client secret expires on {expires}" in body


def test_expired_banner(admin_client):
    past = timezone.localdate() - datetime.timedelta(days=1)
    _save(admin_client, past)
    assert f"expired on {past:%d %b %Y}" in admin_client.get(reverse("audit:list")).content.decode()


def test_banner_is_for_admins_only(client, admin_user, member_user):
    client.force_login(admin_user)
    _save(client, timezone.localdate())
    client.force_login(member_user)
    assert "client secret" not in client.get(reverse("customers:list")).content.decode()


def test_reencrypt_command_moves_to_newest_key(admin_client, settings):
    from django.core.management import call_command

    admin_client.post(URL, form_data())
    old_key = settings.VECTIS_ENCRYPTION_KEYS[0]
    new_key = secrets.generate_key()
    settings.VECTIS_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("reencrypt_secrets")
    token = connection_get().client_secret_encrypted
    assert secrets.decrypt(token, keys=[new_key]) == SECRET
    assert AuditEvent.objects.filter(action="m365.secret_reencrypt").exists()


def test_test_with_an_undecryptable_stored_secret_asks_for_the_secret(admin_client, settings):
    admin_client.post(URL, form_data())
    settings.VECTIS_ENCRYPTION_KEYS = [secrets.generate_key()]
    response = admin_client.post(URL, form_data(client_secret="", action="test"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "cannot be decrypted" in response.content.decode()
    assert not AuditEvent.objects.filter(action="m365.test").exists()


def test_an_admin_lists_other_msp_domains_and_they_are_audited(admin_client):
    response = admin_client.post(URL, form_data(own_domains="Contoso-MSP.co.uk\nmsp-support.example"))
    assert response.status_code == 302
    assert set(OwnDomain.objects.filter(source="admin").values_list("domain", flat=True)) == {
        "contoso-msp.co.uk", "msp-support.example"}
    assert "msp.example" in set(OwnDomain.objects.values_list("domain", flat=True))  # the mailboxes' own stays
    row = AuditEvent.objects.get(action="m365.connect")
    assert row.details["changes"]["own_domains"] == [[], ["contoso-msp.co.uk", "msp-support.example"]]
    # One removed on the next save goes; saving without the field's change keeps the list.
    admin_client.post(URL, form_data(client_secret="", own_domains="msp-support.example"))
    assert list(OwnDomain.objects.filter(source="admin").values_list("domain", flat=True)) == ["msp-support.example"]
    assert "msp-support.example" in admin_client.get(URL).content.decode()


@pytest.mark.parametrize("raw,message", [
    ("northwind.example", "customer&#x27;s domain"),
    ("eu.northwind.example", "customer&#x27;s domain"),
    ("example", "needs a dot"),
    ("co.uk", "public suffix"),
])
def test_other_msp_domains_cannot_be_a_customers_or_a_suffix(admin_client, raw, message):
    make_customer("Northwind", "northwind.example")
    response = admin_client.post(URL, form_data(own_domains=raw))
    assert response.status_code == 200 and message in response.content.decode()
    assert connection_get() is None and not OwnDomain.objects.filter(source="admin").exists()


def test_configure_names_the_six_permissions_and_the_admin_consent_step(admin_client):
    from integrations.setup.diagnostics import REQUIRED_PERMISSIONS

    page = admin_client.get(URL).content.decode()
    listed = page.split('<ul class="permission-list">')[1].split("</ul>")[0]
    assert [name for name in REQUIRED_PERMISSIONS if f"<code>{name}</code>" in listed] == list(REQUIRED_PERMISSIONS)
    assert len(REQUIRED_PERMISSIONS) == 6
    assert "Grant admin consent for &lt;your tenant&gt;" in page
    assert '<details class="help-box" open>' in page  # open until a connection exists


def test_a_failed_save_says_nothing_was_saved_and_to_fix_and_save_again(admin_client):
    page = admin_client.post(URL, form_data(tenant_id="not-a-guid")).content.decode()
    assert "Nothing was saved." in page and "marked below and save again" in page
    assert not M365Connection.objects.exists()
    assert "Nothing was saved." not in admin_client.get(URL).content.decode()
