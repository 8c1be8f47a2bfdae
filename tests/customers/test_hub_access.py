"""Who sees what on the customer hub, and the on-demand body: one access rule for
every list, count, summary line and body request, checked before any Graph call."""


import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditEvent
from customers.models import Customer, Event, Message
from customers.selectors import customer_messages
from customers.windows import mail_window_start
from graphsim import SENTINEL_PREFIX, address_at
from tests.factories import make_user
from tests.traces import assert_left_no_trace


@pytest.fixture
def synced(sync_kit):
    sync_kit.sync()
    return sync_kit


@pytest.fixture
def people(db, synced):
    jane, jack = synced.mailboxes()[:2]
    return {
        "admin": make_user("boss", Role.ADMIN),
        "member": make_user("jane", Role.MEMBER, work_email=jane),
        "viewer": make_user("jack", Role.VIEWER, work_email=jack),
    }


def busiest_customer():
    return max(Customer.objects.all(), key=lambda c: c.message_links.count())


def hub(client, user, customer, **params):
    client.force_login(user)
    return client.get(reverse("customers:hub", args=[customer.pk]), params)


def visible_per_simulator(synced, customer, user, since):
    """Message pks the hub should list, from the simulator's own mail rather than
    the selector: every message with an address (from, to, cc, bcc) at one of the
    customer's domains, kept for an admin, for anyone else only if their own
    address is on it; then bounded by the stored received time, as the hub is."""
    domains = list(customer.domains.values_list("domain", flat=True))
    addresses_of = {}
    for record in synced.tenant.messages_touching(domains, mailboxes=synced.mailboxes(),
                                                  since=mail_window_start(synced.now)):
        g = record.graph
        on_it = [g.get("from") or {}, *(g.get("toRecipients") or []), *(g.get("ccRecipients") or []),
                 *(g.get("bccRecipients") or [])]
        found = {((r.get("emailAddress") or {}).get("address") or "").lower() for r in on_it} - {""}
        addresses_of.setdefault(g["internetMessageId"], set()).update(found)
    stored = {imid: (pk, received) for imid, pk, received in
              Message.objects.values_list("internet_message_id", "pk", "received_at")}
    expected = set()
    for imid, addresses in addresses_of.items():
        if not any(address_at(a, domains) for a in addresses):
            continue  # only a delegate `sender` was at the customer: not the customer's mail
        if user.role != Role.ADMIN and user.work_email.lower() not in addresses:
            continue
        pk, received = stored[imid]  # KeyError: the sync lost a message the customer is on
        if received >= since:
            expected.add(pk)
    return expected


@pytest.mark.parametrize("role", ["admin", "member", "viewer"])
def test_list_count_and_latest_line_agree_with_the_rule(client, synced, people, role):
    user, customer = people[role], busiest_customer()
    since = mail_window_start(timezone.now())  # the hub's window, taken just before the request
    response = hub(client, user, customer)
    page = response.context["message_page"]
    shown = list(page.paginator.object_list)
    expected = visible_per_simulator(synced, customer, user, since)
    assert expected, "the busiest customer has recent mail for everyone in this test"
    assert {m.pk for m in shown} == expected
    assert len(shown) == len(expected)  # each message listed once
    everyone = visible_per_simulator(synced, customer, people["admin"], since)
    if role != "admin":
        assert expected < everyone  # the rule really hides something here
    assert page.paginator.count == len(shown)
    latest = response.context["latest_message"]
    visible = list(customer_messages(user, customer))
    assert (latest.pk if latest else None) == (visible[0].pk if visible else None)
    for event in response.context["events"]:
        if role != "admin":
            assert event.participants.filter(address=user.work_email).exists()


def test_member_cannot_fetch_a_body_they_did_not_take_part_in(client, synced, people):
    member = people["member"]
    customer = busiest_customer()
    hidden = Message.objects.filter(customer_links__customer=customer).exclude(participants__address=member.work_email).first()
    assert hidden is not None
    synced.sim.clear_requests()
    client.force_login(member)
    response = client.post(reverse("customers:message_body", args=[customer.pk, hidden.pk]))
    assert response.status_code == 404
    assert synced.sim.requests == []  # not even a token request
    row = AuditEvent.objects.filter(action="body.fetch").latest("id")
    assert row.actor == member and row.details["outcome"] == "refused" and row.target_id == str(hidden.pk)
    # A message id of another customer, through this customer's URL, is refused the same way.
    other = Message.objects.exclude(customer_links__customer=customer).first()
    assert client.post(reverse("customers:message_body", args=[customer.pk, other.pk])).status_code == 404


def test_body_is_fetched_on_demand_sanitised_audited_and_stored_nowhere(client, synced, people, all_logs):
    member = people["member"]
    customer = busiest_customer()
    message = customer_messages(member, customer).first()
    synced.sim.clear_requests()
    client.force_login(member)
    response = client.post(reverse("customers:message_body", args=[customer.pk, message.pk]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.content.decode()
    assert SENTINEL_PREFIX in body
    body_requests = [r for r in synced.sim.requests if "/messages/" in r["path"] and "delta" not in r["path"]]
    assert len(body_requests) == 1 and body_requests[0]["query"].get("$select") == "body"
    row = AuditEvent.objects.filter(action="body.fetch").latest("id")
    assert row.actor == member and row.customer_id == customer.pk and row.details["outcome"] == "ok"
    assert row.details["internet_message_id"] == message.internet_message_id and row.details["graph_id"]
    assert_left_no_trace([SENTINEL_PREFIX], logs=all_logs)  # every table, the cache, every logger at DEBUG


def test_hub_page_never_carries_a_body(client, synced, people):
    response = hub(client, people["admin"], busiest_customer())
    assert SENTINEL_PREFIX not in response.content.decode()


def test_event_body_follows_the_same_rule(client, synced, people):
    from customers.models import EventCustomer
    from customers.selectors import events_visible

    member = people["member"]
    mine = events_visible(member).first()
    assert mine is not None
    customer = EventCustomer.objects.filter(event=mine).first().customer
    client.force_login(member)
    ok = client.post(reverse("customers:event_body", args=[customer.pk, mine.pk]))
    assert ok.status_code == 200 and SENTINEL_PREFIX in ok.content.decode()

    hidden = Event.objects.filter(customer_links__isnull=False).exclude(participants__address=member.work_email).first()
    assert hidden is not None, "the simulated tenant has customer meetings this member is not in"
    hidden_customer = EventCustomer.objects.filter(event=hidden).first().customer
    synced.sim.clear_requests()
    assert client.post(reverse("customers:event_body", args=[hidden_customer.pk, hidden.pk])).status_code == 404
    assert synced.sim.requests == []  # refused before any Graph call, token included
    row = AuditEvent.objects.filter(action="body.fetch").latest("id")
    assert row.actor == member and row.customer_id == hidden_customer.pk
    assert row.details == {"kind": "event", "outcome": "refused"}
    assert (row.target_type, row.target_id) == ("customers.event", str(hidden.pk))


def test_body_of_a_mailbox_removed_from_the_list_is_never_requested(client, synced, people):
    from integrations.setup.connection import connection_get
    from integrations.setup.services import connection_save

    admin, customer = people["admin"], busiest_customer()
    connection = connection_get()
    jane = synced.mailboxes()[0]
    only_jane = Message.objects.filter(customer_links__customer=customer, holders__mailbox=jane).exclude(
        holders__mailbox__in=[m for m in synced.mailboxes() if m != jane]).first()
    connection_save(actor=admin, tenant_id=connection.tenant_id, client_id=connection.client_id, client_secret="",
                    mailboxes=[m for m in connection.mailboxes if m != jane], secret_expires_on=None)
    synced.sim.clear_requests()
    client.force_login(admin)
    assert client.post(reverse("customers:message_body", args=[customer.pk, only_jane.pk])).status_code == 404
    assert not [r for r in synced.sim.requests if jane in r["path"].lower()]


def test_remote_images_are_blocked_until_asked(client, synced, people):
    from customers.sanitize import body_sanitise

    html, blocked = body_sanitise('<p>x<img src="https://tracker.example/p.gif"><img src="cid:logo"></p>')
    assert "tracker.example" not in html and blocked == 1
    html, blocked = body_sanitise('<img src="https://tracker.example/p.gif">', load_images=True)
    assert 'src="https://tracker.example/p.gif"' in html and blocked == 0


@pytest.mark.parametrize("payload", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<svg onload="alert(1)"></svg>',
    '<form action="https://evil.example"><input name="p"></form>',
    '<iframe src="https://evil.example"></iframe>',
    '<a href="https://ok.example" onclick="alert(1)">ok</a>',
    '<div style="background:url(javascript:alert(1))">x</div>',
])
def test_sanitiser_removes_every_active_thing(payload):
    from customers.sanitize import body_sanitise

    html, _ = body_sanitise(payload)
    lowered = html.lower()
    for needle in ("<script", "onerror", "onload", "onclick", "javascript:", "<form", "<input", "<iframe", "style="):
        assert needle not in lowered
    if "ok.example" in payload:
        assert 'target="_blank"' in html and "noopener" in html


@pytest.mark.parametrize("role", ["admin", "member"])
def test_customer_list_last_email_column_follows_the_rule(client, synced, people, role):
    from customers.selectors import customer_latest_message

    user = people[role]
    client.force_login(user)
    rows = client.get(reverse("customers:list")).context["page"]
    checked = 0
    for customer in rows:
        latest = customer_latest_message(user, customer)
        assert customer.last_email == latest
        checked += latest is not None
    assert checked > 0


def test_an_undecryptable_secret_fails_the_body_fetch_cleanly(client, synced, people, settings):
    from integrations.graph.tokens import forget_token_apps
    from integrations.setup import secrets

    settings.VECTIS_ENCRYPTION_KEYS = [secrets.generate_key()]  # the key the secret was saved with is gone
    forget_token_apps()  # no cached token: the secret must be decrypted now
    admin, customer = people["admin"], busiest_customer()
    message = customer_messages(admin, customer).first()
    client.force_login(admin)
    response = client.post(reverse("customers:message_body", args=[customer.pk, message.pk]))
    assert response.status_code == 502
    assert "cannot be decrypted" in response.content.decode()
    row = AuditEvent.objects.filter(action="body.fetch").latest("id")
    assert row.details["outcome"] == "failed"
