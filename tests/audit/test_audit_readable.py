"""The audit log read by an auditor: targets named and linked (a body fetch shows
the email's subject and its customer), a sync's statistics as one short line,
and the scheduled sync's own rows hidden until asked for."""

from django.urls import reverse
from django.utils import timezone

from audit.log import audit_log
from customers.communications import Message, MessageCustomer
from security.models import CustomerTenant
from tests.factories import make_customer

HOSTILE_SUBJECT = 'VPN down <script>alert("x")</script>'


def audit_page(client, **params):
    return client.get(reverse("audit:list"), params).content.decode()


def rows(page):
    return page.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]


def test_a_body_fetch_row_names_the_email_by_subject_and_links_it_and_its_customer(admin_client, admin_user):
    customer = make_customer("Northwind Traders", "northwind.example")
    message = Message.objects.create(identity="x" * 64, internet_message_id="<m1@northwind.example>",
                                     subject=HOSTILE_SUBJECT, received_at=timezone.now())
    MessageCustomer.objects.create(message=message, customer=customer, received_at=message.received_at)
    audit_log(actor=admin_user, action="body.fetch", customer_id=customer.pk, target_type="customers.message",
              target_id=str(message.pk), details={"kind": "message", "outcome": "ok", "mailbox": "tess@msp.example"})

    [row] = rows(audit_page(admin_client, action="body.fetch"))
    hub = reverse("customers:hub", args=[customer.pk])
    assert f'<a href="{hub}">Email “VPN down &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;”</a>' in row
    assert f'<a href="{hub}">Northwind Traders</a>' in row
    assert "<script>" not in row


def test_user_connection_and_mailbox_targets_are_links(admin_client, admin_user, m365_connected):
    from integrations.setup.connection import connection_get

    audit_log(actor=admin_user, action="m365.mailbox_resync", target_type="mailbox", target_id="jane@msp.example")
    audit_log(actor=admin_user, action="m365.test", target=connection_get(), details={"ok": True})
    audit_log(actor=admin_user, action="user.update", target=admin_user, details={"changes": {"role": ["member", "admin"]}})
    page = audit_page(admin_client)
    integrations = reverse("integrations:index")
    assert f'<a href="{integrations}">mailbox jane@msp.example</a>' in page
    assert f'<a href="{integrations}">Microsoft 365 connection</a>' in page
    assert f'<a href="{reverse("user_edit", args=[admin_user.pk])}">user {admin_user.username}</a>' in page
    assert "role member → admin" in page and "{" not in page.split("<tbody>")[1]  # nested details without JSON braces


def sync_row(mailbox, reason="schedule"):
    audit_log(actor=None, action="m365.sync", target_type="mailbox", target_id=mailbox, details={
        "actor_label": "sync", "mailbox": mailbox, "reason": reason, "full": False, "outcome": "success",
        "runs": {"inbox": {"outcome": "success", "seen": 41, "kept": 3, "dropped": 38, "removed": 0, "graph_requests": 2,
                           "retries": 0, "throttled_seconds": 0, "capped": False, "listed": 0},
                 "calendar": {"outcome": "success", "seen": 5, "kept": 5, "dropped": 0, "removed": 1, "graph_requests": 1,
                              "retries": 1, "throttled_seconds": 0.5, "capped": False, "listed": 0}}})


def test_system_sync_rows_are_hidden_by_default_and_shown_by_the_toggle_as_one_line(admin_client, admin_user):
    sync_row("jane@msp.example")
    sync_row("jack@msp.example")
    audit_log(actor=admin_user, action="customer.create", details={"name": "Fabrikam"})

    page = audit_page(admin_client)
    assert [("customer.create" in row) for row in rows(page)] == [True]
    assert "2 system sync rows hidden" in page

    page = audit_page(admin_client, system="on")
    assert len(rows(page)) == 3 and "rows hidden" not in page
    line = ("schedule sync: ok — Inbox 3 kept of 41 seen · Calendar 5 kept of 5 seen, 1 removed · "
            "3 Graph requests, 1 retries")
    assert page.count(line) == 2
    assert "graph_requests" not in page and "throttled_seconds" not in page  # no raw JSON keys

    # Asking for the action itself shows them, and the export follows what the page shows.
    assert len(rows(audit_page(admin_client, action="m365.sync"))) == 2
    export = b"".join(admin_client.get(reverse("audit:export")).streaming_content).decode()
    assert "customer.create" in export and "m365.sync" not in export


def test_a_customer_tenant_row_names_the_customer_and_links_its_tenant_page(admin_client, admin_user):
    customer = make_customer("Northwind Traders", "northwind.example")
    link = CustomerTenant.objects.create(customer=customer, tenant_id="1a1a1a1a-0000-4000-8000-000000000001")
    audit_log(actor=admin_user, action="customer_tenant.link", target=link, customer=customer)
    page = audit_page(admin_client)
    tenant_page = reverse("integrations:customer_tenant", args=[customer.pk])
    assert f'<a href="{tenant_page}">Microsoft 365 tenant of Northwind Traders</a>' in page
