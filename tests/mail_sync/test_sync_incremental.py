"""Later runs: delta rounds pick up additions and @removed, replays and
second full runs change nothing, the calendar window reconciles and rolls,
and the write cost per page stays fixed."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Event, EventHolder, Message, MessageHolder, MessageParticipant
from integrations.mail.models import SyncRun
from integrations.setup.models import MailboxState


def _contact(kit, domain="northwind.example"):
    return next(u for u in kit.tenant.users if u.kind == "customer" and u.customer_domain == domain and u.graph["accountEnabled"]).upn


def _rows_snapshot():
    return (
        sorted(Message.objects.values_list("id", "identity", "internet_message_id", "subject", "received_at")),
        sorted(MessageHolder.objects.values_list("id", "mailbox", "graph_id", "message_id", "folder", "direction", "preview")),
        sorted(MessageParticipant.objects.values_list("holder_id", "message_id", "role", "address")),
        sorted(EventHolder.objects.values_list("mailbox", "graph_id", "event_id")),
        Event.objects.count(),
    )


def test_second_run_with_nothing_new_sends_three_requests_and_writes_nothing(sync_kit):
    sync_kit.sync()
    before = _rows_snapshot()
    sync_kit.sim.clear_requests()

    sync_kit.sync()

    assert _rows_snapshot() == before
    per_mailbox = {}
    for request in sync_kit.sim.requests:
        per_mailbox[request["user"]] = per_mailbox.get(request["user"], 0) + 1
    # inbox delta, sent items delta, calendar window: no resolve, no token
    assert per_mailbox == {upn: 3 for upn in sync_kit.mailboxes()}
    latest = SyncRun.objects.filter(folder__in=["inbox", "sentitems"])[:8]
    assert all(run.kept == 0 and not run.full for run in latest)


def test_second_full_run_is_idempotent(sync_kit):
    sync_kit.sync()
    before = _rows_snapshot()

    sync_kit.sync(full=True)

    assert _rows_snapshot() == before
    sync_kit.assert_ground_truth()
    assert SyncRun.objects.filter(folder="inbox", full=True).count() == 8


def test_incremental_round_adds_copies_and_removes(sync_kit):
    jane, jack, *_ = sync_kit.mailboxes()
    sync_kit.sync()
    tenant = sync_kit.tenant
    new = tenant.add_message(jane, "inbox", from_=_contact(sync_kit), subject="Printer on fire")
    noise = tenant.add_message(jane, "inbox", from_="promo@newsletter.example", subject="Big sale")
    # jane's message also lands in jack's inbox: a second holder, not a second message
    copy = tenant.add_message(jack, "inbox", from_=_contact(sync_kit), subject="Printer on fire",
                              internetMessageId=new.graph["internetMessageId"],
                              conversationId=new.graph["conversationId"])
    held = {(mailbox, graph_id): imid for mailbox, graph_id, imid in sync_kit.stored_messages()}
    shared_imids = [imid for imid in set(held.values()) if list(held.values()).count(imid) > 1]
    only_jane = next(r for r in tenant.messages(jane) if (jane, r.id) in held and list(held.values()).count(held[(jane, r.id)]) == 1)
    shared = next(r for r in tenant.messages(jane) if held.get((jane, r.id)) in shared_imids)
    tenant.remove_message(jane, only_jane.folder, only_jane.id)
    tenant.remove_message(jane, shared.folder, shared.id)

    sync_kit.sync()

    sync_kit.assert_ground_truth()
    message = Message.objects.get(internet_message_id=new.graph["internetMessageId"])
    assert set(message.holders.values_list("mailbox", "graph_id")) == {(jane, new.id), (jack, copy.id)}
    assert not MessageHolder.objects.filter(graph_id=noise.id).exists()
    assert not Message.objects.filter(internet_message_id=only_jane.graph["internetMessageId"]).exists()
    survivor = Message.objects.get(internet_message_id=shared.graph["internetMessageId"])  # still in a colleague's mailbox
    assert jane not in survivor.holders.values_list("mailbox", flat=True)
    inbox = SyncRun.objects.filter(mailbox=jane, folder="inbox").first()
    assert inbox.kept == 1 and inbox.dropped == 1 and inbox.removed >= 1 and not inbox.full


def test_update_that_no_longer_touches_a_customer_removes_the_copy(sync_kit):
    jane = sync_kit.mailboxes()[0]
    sync_kit.sync([jane])
    record = next(r for r in sync_kit.tenant.messages(jane, "inbox") if (jane, r.id, r.graph["internetMessageId"]) in sync_kit.stored_messages())
    stranger = "someone@vendor-portal.example"
    sync_kit.tenant.update_message(jane, "inbox", record.id, from_=stranger, sender=stranger,
                                   toRecipients=[jane], ccRecipients=[], bccRecipients=[])

    sync_kit.sync([jane])

    sync_kit.assert_ground_truth(mailboxes=[jane])
    assert not MessageHolder.objects.filter(graph_id=record.id).exists()


def test_replayed_pages_and_empty_pages_change_nothing(sync_kit, monkeypatch):
    monkeypatch.setattr("integrations.mail.mail_sync.PAGE_SIZE", 4)
    jane = sync_kit.mailboxes()[0]
    sync_kit.sim.faults.set("empty_pages")
    sync_kit.sync([jane])
    old_link = MailboxState.objects.get(upn=jane).inbox_delta_link
    for n in range(9):
        sync_kit.tenant.add_message(jane, "inbox", from_=_contact(sync_kit), subject=f"Follow-up {n}")
    sync_kit.sync([jane])
    after = _rows_snapshot()

    # A worker that died after writing but before storing the link: the same changes again.
    MailboxState.objects.filter(upn=jane).update(inbox_delta_link=old_link)
    sync_kit.sync([jane])

    assert _rows_snapshot() == after
    sync_kit.assert_ground_truth(mailboxes=[jane])


def test_calendar_reconciles_the_window_and_rolls_forward(sync_kit):
    jane = sync_kit.mailboxes()[0]
    now = sync_kit.now
    sync_kit.sync([jane])
    tenant = sync_kit.tenant
    stored = {graph_id for _, graph_id in sync_kit.stored_events()}
    in_window = [r for r in tenant.events(jane, include_masters=False) if r.id in stored]
    gone, moved, renamed = in_window[:3]
    tenant.remove_event(jane, gone.id)
    tenant.update_event(jane, moved.id, start=now + timedelta(days=40), end=now + timedelta(days=40, hours=1))
    tenant.update_event(jane, renamed.id, subject="Rescheduled review", isCancelled=True)
    added = tenant.add_event(jane, subject="Kick-off", attendees=[_contact(sync_kit, "wingtip.example")],
                             start=now + timedelta(days=3))

    sync_kit.sync([jane])

    sync_kit.assert_ground_truth(mailboxes=[jane])
    assert (jane, added.id) in sync_kit.stored_events()
    event = Event.objects.get(holders__graph_id=renamed.id)
    assert event.subject == "Rescheduled review" and event.is_cancelled
    assert SyncRun.objects.filter(mailbox=jane, folder="calendar").first().removed == 2

    # Three days later: the window has moved; what fell out behind it stays until retention.
    later = now + timedelta(days=3)
    old = sync_kit.stored_events()
    sync_kit.sync([jane], now=later)
    truth = sync_kit.event_truth(now=later, mailboxes=[jane])
    window_start = later - timedelta(days=7)
    behind = {(m, g) for m, g in old if EventHolder.objects.filter(graph_id=g, event__ends_at__lte=window_start).exists()}
    assert sync_kit.stored_events() == truth | behind
    assert MailboxState.objects.get(upn=jane).calendar_synced_at == later


def test_writes_cost_a_fixed_number_of_queries_per_page(sync_kit, monkeypatch):
    jane = sync_kit.mailboxes()[0]
    for n in range(60):
        sync_kit.tenant.add_message(jane, "inbox", from_=_contact(sync_kit), subject=f"Bulk {n}",
                                    receivedDateTime=sync_kit.now - timedelta(hours=n))

    def measure(page_size, full):
        monkeypatch.setattr("integrations.mail.mail_sync.PAGE_SIZE", page_size)
        with CaptureQueriesContext(connection) as queries:
            sync_kit.sync([jane], full=full)
        pages = sum(SyncRun.objects.filter(mailbox=jane, folder__in=["inbox", "sentitems"]).values_list("graph_requests", flat=True)[:2])
        return len(queries), pages

    few_queries, few_pages = measure(100, False)
    many_queries, many_pages = measure(5, True)

    assert many_pages > few_pages + 10
    per_page = (many_queries - few_queries) / (many_pages - few_pages)
    # Per page: transaction (2), the copies' earlier messages, message insert,
    # message ids, holder upsert, the copies' old participants out, participants,
    # customer links, run progress (8); when copies were stored before (this
    # replay), their links re-read against their participants and stale ones
    # dropped (3); plus the Graph client's re-read of the allow-list before
    # following each link (2). Never one per message.
    assert per_page <= 15, f"{per_page:.1f} queries per extra page"
    assert few_queries < 80
    sync_kit.assert_ground_truth(mailboxes=[jane])


@pytest.mark.parametrize("folder", ["inbox", "sentitems"])
def test_direction_follows_the_folder_and_sender(sync_kit, folder):
    jane, jack, *_ = sync_kit.mailboxes()
    if folder == "inbox":
        record = sync_kit.tenant.add_message(jane, "inbox", from_=jack, toRecipients=[_contact(sync_kit), jane])
    else:
        record = sync_kit.tenant.add_message(jane, "sentitems", toRecipients=[_contact(sync_kit)])

    sync_kit.sync([jane])

    assert MessageHolder.objects.get(graph_id=record.id).direction == "sent"
