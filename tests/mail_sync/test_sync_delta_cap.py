"""A busy inbox (12,000 messages in the 14-day look-back) against Graph's
documented cap on filtered message delta (5,000 per round, delta link still
handed out): the sync detects the capped round, lists the folder for the
rest, and stores every customer message of the window exactly once.

The simulator for this module is its own (the session one stays small):
built once, the tenant rebuilt per test.
"""

from datetime import timedelta

import pytest
from django.urls import reverse

from customers.models import MessageHolder
from graphsim import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SENTINEL_PREFIX,
    GraphSimulator,
    TenantSpec,
    build_tenant,
    serve,
)
from integrations.graph import errors
from integrations.graph.client import MESSAGE_FIELDS
from integrations.mail.models import SyncRun
from integrations.setup.models import MailboxState
from tests.conftest import SyncKit

WINDOW_MESSAGES = 12_000
SPEC = TenantSpec(technicians=2, messages_per_mailbox=30, events_per_mailbox=4, busy_inbox_messages=WINDOW_MESSAGES)
BUSY = SPEC.technician_upns()[-1]
QUIET = SPEC.technician_upns()[0]


@pytest.fixture(scope="module")
def busy_server():
    running = serve(GraphSimulator(build_tenant(SPEC), client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET))
    yield running
    running.stop()


@pytest.fixture
def kit(busy_server, settings, db):
    """Like sync_kit, on the busy tenant: one customer per domain, both technicians allowed."""
    from customers.services import customer_create
    from integrations.setup.services import connection_save

    busy_server.simulator.reset(tenant=True)
    settings.VECTIS_GRAPH_BASE_URL = busy_server.graph_base_url
    settings.VECTIS_LOGIN_BASE_URL = busy_server.login_base_url
    settings.VECTIS_GRAPH_CA_BUNDLE = busy_server.ca_path
    for domain in SPEC.customer_domains:
        customer_create(actor=None, name=domain.split(".")[0].title(), domains=[domain])
    connection_save(actor=None, tenant_id=SPEC.tenant_id, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                    mailboxes=SPEC.technician_upns(), secret_expires_on=None)
    yield SyncKit(busy_server)
    busy_server.simulator.reset()


def _in_window(kit):
    since = (kit.now - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [r for r in kit.tenant.messages(BUSY, "inbox") if r.graph["receivedDateTime"] >= since]


def _inbox_run():
    return SyncRun.objects.filter(mailbox=BUSY, folder="inbox").order_by("-started_at", "-id").first()


def test_capped_round_is_filled_in_and_every_customer_message_is_stored_once(kit):
    window = len(_in_window(kit))
    assert window >= WINDOW_MESSAGES

    [summary] = kit.sync([BUSY])

    assert summary["outcome"] == "success"
    kit.assert_ground_truth(mailboxes=[BUSY])  # every customer message of the window, one holder each
    run = _inbox_run()
    assert run.capped and run.full
    assert run.listed == window - 5000
    assert run.seen == window and run.kept + run.dropped == window
    # Cost: 5 delta pages of 1,000 up to the cap, then the listing in pages of 1,000.
    inbox = [r["path"].lower() for r in kit.sim.requests if "/mailfolders/inbox/" in r["path"].lower()]
    assert inbox.count(f"/v1.0/users/{BUSY}/mailfolders/inbox/messages/delta") == 5
    assert inbox.count(f"/v1.0/users/{BUSY}/mailfolders/inbox/messages") == -(-window // 1000) == len(inbox) - 5
    assert summary["runs"]["inbox"]["capped"] is True and summary["runs"]["inbox"]["listed"] == window - 5000
    # Sent items held fewer than 5,000: no cap, no listing.
    sent = SyncRun.objects.get(mailbox=BUSY, folder="sentitems")
    assert not sent.capped and sent.listed == 0
    # The delta link stored is the capped round's own.
    state = MailboxState.objects.get(upn=BUSY)
    assert "$deltatoken=" in state.inbox_delta_link


def test_fill_in_asks_no_body_and_only_the_allowed_mailbox(kit):
    kit.sync([BUSY])

    listing = kit.sim.requests_for("/mailFolders/inbox/messages")
    listing = [r for r in listing if not r["path"].lower().endswith("/delta")]
    assert listing, "the capped round was filled in by listing the folder"
    first = listing[0]["query"]
    assert first["$select"] == MESSAGE_FIELDS and "body" not in first["$select"].lower().split(",")
    assert first["$filter"].startswith("receivedDateTime ge ") and first["$orderby"] == "receivedDateTime desc"
    assert all("body" not in r["query"].get("$select", "").lower().split(",") for r in listing)
    assert {r["user"].lower() for r in kit.sim.requests if r["user"]} == {BUSY}
    assert all(r["status"] == 200 for r in kit.sim.requests)
    assert not MessageHolder.objects.filter(preview__contains=SENTINEL_PREFIX).exists()


def test_listing_refuses_a_mailbox_off_the_list_before_any_request(kit):
    client = kit.client()
    kit.sim.clear_requests()
    with pytest.raises(errors.MailboxNotAllowed):
        client.message_list("ceo@contoso-msp.example", "inbox", received_since=kit.now - timedelta(days=14))
    assert kit.sim.requests == []


def test_later_rounds_use_the_delta_link_and_a_full_resync_changes_nothing(kit, admin_client):
    kit.sync([BUSY])
    holders = set(MessageHolder.objects.values_list("mailbox", "graph_id", "message_id"))
    contact = next(u.upn for u in kit.tenant.users if u.kind == "customer" and u.graph["accountEnabled"])
    added = kit.tenant.add_message(BUSY, "inbox", from_=contact, subject="New after the capped round",
                                   receivedDateTime=kit.now - timedelta(minutes=1))
    kit.sim.clear_requests()

    kit.sync([BUSY])

    run = _inbox_run()
    assert not run.full and not run.capped and run.listed == 0 and run.kept == 1
    assert MessageHolder.objects.filter(mailbox=BUSY, graph_id=added.id).exists()
    assert len(kit.sim.requests_for("/mailFolders/inbox/messages/delta")) == 1
    # The admin still sees that the read behind this delta link was capped, and how the rest was read.
    page = admin_client.get(reverse("integrations:index")).content.decode()
    row = page.split(f"<code>{BUSY}</code>")[1].split("</tr>")[0]
    assert "Graph returned only 5,000 messages" in row and f"the other {len(_in_window(kit)) - 1 - 5000} were read by listing" in row

    kit.sync([BUSY], full=True)  # the fill-in's messages survive the end-of-round sweep

    kit.assert_ground_truth(mailboxes=[BUSY])
    assert _inbox_run().capped and _inbox_run().removed == 0
    assert holders < set(MessageHolder.objects.values_list("mailbox", "graph_id", "message_id"))


def test_quiet_mailbox_is_never_listed(kit):
    kit.sync([QUIET])

    kit.assert_ground_truth(mailboxes=[QUIET])
    assert not SyncRun.objects.filter(capped=True).exists()
    assert not [r for r in kit.sim.requests if r["path"].lower().endswith("/messages")]


def test_a_round_past_5000_was_not_capped_and_is_not_listed(kit):
    kit.sim.delta_filter_cap = None  # a Graph that ignored its documented cap: the round is whole
    try:
        kit.sync([BUSY])
    finally:
        kit.sim.delta_filter_cap = 5000

    kit.assert_ground_truth(mailboxes=[BUSY])
    run = _inbox_run()
    assert run.seen == len(_in_window(kit)) and not run.capped and run.listed == 0
    assert not [r for r in kit.sim.requests if r["path"].lower().endswith("/messages")]
