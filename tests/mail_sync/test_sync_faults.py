"""Faults during a sync (throttling, outages, resets, expired delta state, a
mailbox without Exchange Online, a run killed between pages, bad credentials):
every case ends with the stored set equal to the simulator's ground truth."""

from datetime import timedelta

import pytest

from customers.models import Message, MessageHolder
from integrations.graph.tokens import forget_token_apps
from integrations.mail.models import SyncRun
from integrations.setup.connection import connection_get
from integrations.setup.models import MailboxState


@pytest.fixture
def small_pages(monkeypatch):
    """Five items a page, so a mailbox takes several pages (and faults land mid-round)."""
    monkeypatch.setattr("integrations.mail.mail_sync.PAGE_SIZE", 5)
    monkeypatch.setattr("integrations.mail.calendar_sync.PAGE_SIZE", 5)


def test_429_with_retry_after_is_waited_out_and_recorded(sync_kit, small_pages):
    sync_kit.sim.faults.set("throttle", every=3, retry_after=2)
    sleeps = []

    sync_kit.sync(client=sync_kit.client(sleeps))

    sync_kit.assert_ground_truth()
    assert 2.0 in sleeps
    runs = SyncRun.objects.all()
    assert all(run.outcome == "success" for run in runs)
    assert sum(r.retries for r in runs) >= 3
    assert sum(r.throttled_seconds for r in runs) == pytest.approx(sum(s for s in sleeps if s == 2.0))


def test_503_is_retried(sync_kit, small_pages):
    sync_kit.sim.faults.set("unavailable", every=4, retry_after=1)

    sync_kit.sync(client=sync_kit.client())

    sync_kit.assert_ground_truth()
    assert sum(SyncRun.objects.values_list("retries", flat=True)) >= 3


def test_connection_resets_are_retried(sync_kit, small_pages):
    sync_kit.sim.faults.set("connection_reset", every=3)

    sync_kit.sync(client=sync_kit.client())

    sync_kit.assert_ground_truth()


def test_throttled_past_the_retries_fails_the_mailbox_with_request_id_then_recovers(sync_kit):
    jane = sync_kit.mailboxes()[0]
    sync_kit.sim.faults.set("throttle", path="/messages/delta", retry_after=1)

    [summary] = sync_kit.sync([jane], client=sync_kit.client())

    assert summary["outcome"] == "failed"
    run = SyncRun.objects.get(mailbox=jane, folder="inbox")
    assert run.outcome == "failed" and run.request_id and run.request_id in run.error and run.retries == 4
    state = MailboxState.objects.get(upn=jane)
    assert "throttling" in state.last_error and state.last_error_at and state.last_success_at is None
    assert state.running_since is None  # released in spite of the failure

    sync_kit.sim.faults.clear()
    sync_kit.sync([jane])
    sync_kit.assert_ground_truth(mailboxes=[jane])


def test_expired_delta_state_restarts_the_folder_without_duplicates(sync_kit):
    jane = sync_kit.mailboxes()[0]
    sync_kit.sync([jane])
    customer = next(u for u in sync_kit.tenant.users if u.kind == "customer").upn
    added = sync_kit.tenant.add_message(jane, "inbox", from_=customer, subject="After the gap",
                                        receivedDateTime=sync_kit.now - timedelta(hours=2))
    # Deleted while the delta state was lost: only a from-scratch round can notice.
    victim = next(r for r in sync_kit.tenant.messages(jane, "inbox")
                  if (jane, r.id, r.graph["internetMessageId"]) in sync_kit.stored_messages()
                  and r.graph["receivedDateTime"] > (sync_kit.now - timedelta(days=7)).isoformat())
    sync_kit.tenant.remove_message(jane, "inbox", victim.id)
    sync_kit.sim.faults.set("delta_expired")
    before = Message.objects.count()

    sync_kit.sync([jane])

    sync_kit.assert_ground_truth(mailboxes=[jane])
    run = SyncRun.objects.filter(mailbox=jane, folder="inbox").first()
    assert run.outcome == "success" and run.full and run.removed >= 1
    assert Message.objects.count() <= before  # one added, at least one gone: nothing doubled
    assert MessageHolder.objects.filter(graph_id=added.id).count() == 1
    assert "syncStateNotFound" not in MailboxState.objects.get(upn=jane).last_error


def test_mailbox_without_exchange_online_is_recorded_and_the_others_sync(sync_kit):
    jane, jack, *others = sync_kit.mailboxes()
    sync_kit.sim.faults.set("mailbox_not_enabled", mailboxes=[jack])

    summaries = sync_kit.sync()

    assert [s["outcome"] for s in summaries] == ["success", "failed", "success", "success"]
    run = SyncRun.objects.get(mailbox=jack, folder="inbox")
    assert "not an Exchange Online mailbox" in run.error and run.request_id
    assert not SyncRun.objects.filter(mailbox=jack, folder__in=["sentitems", "calendar"]).exists()
    state = MailboxState.objects.get(upn=jack)
    assert state.last_error and state.last_success_at is None and state.next_run_at
    assert not MessageHolder.objects.filter(mailbox=jack).exists()
    # The others hold exactly their own share (copies in jack's mailbox are jack's to report).
    sync_kit.assert_ground_truth(mailboxes=[jane, *others])


def test_run_killed_between_pages_is_replayed_without_duplicates(sync_kit, small_pages):
    jane = sync_kit.mailboxes()[0]
    # The third page never arrives whole: the run stops with two pages written.
    sync_kit.sim.faults.set("truncated_json", path="/messages/delta", every=3)

    [summary] = sync_kit.sync([jane])

    assert summary["outcome"] == "failed"
    partial = MessageHolder.objects.filter(mailbox=jane).count()
    assert 0 < partial < len(sync_kit.message_truth(mailboxes=[jane]))
    assert MailboxState.objects.get(upn=jane).inbox_delta_link == ""  # only stored after the last page

    sync_kit.sim.faults.clear()
    sync_kit.sync([jane])  # the retry replays pages one and two

    sync_kit.assert_ground_truth(mailboxes=[jane])


def test_incremental_round_killed_mid_way_is_replayed(sync_kit, small_pages):
    jane = sync_kit.mailboxes()[0]
    sync_kit.sync([jane])
    link = MailboxState.objects.get(upn=jane).inbox_delta_link
    contact = next(u for u in sync_kit.tenant.users if u.kind == "customer").upn
    for n in range(12):
        sync_kit.tenant.add_message(jane, "inbox", from_=contact, subject=f"Ticket {n}")
    sync_kit.sim.faults.set("truncated_json", path="/messages/delta", every=2)

    sync_kit.sync([jane])

    assert MailboxState.objects.get(upn=jane).inbox_delta_link == link  # not advanced past a lost page
    sync_kit.sim.faults.clear()
    sync_kit.sync([jane])
    sync_kit.assert_ground_truth(mailboxes=[jane])


@pytest.fixture
def fresh_tokens():
    forget_token_apps()
    yield
    forget_token_apps()  # MSAL replays a failed token request from memory: start clean


def test_bad_credentials_are_recorded_on_the_connection_and_cleared_by_a_good_run(sync_kit, fresh_tokens):
    sync_kit.sim.faults.set("wrong_secret")

    summaries = sync_kit.sync()

    assert all(s["outcome"] == "failed" for s in summaries)
    connection = connection_get()
    assert "client secret is wrong" in connection.last_error and connection.last_error_at
    assert "client secret is wrong" in MailboxState.objects.first().last_error
    assert not MessageHolder.objects.exists()

    sync_kit.sim.faults.clear()
    forget_token_apps()
    sync_kit.sync()

    sync_kit.assert_ground_truth()
    assert connection_get().last_error == ""


def test_an_undecryptable_secret_is_reported_on_the_run_and_the_connection(sync_kit, settings):
    """A lost encryption key is an admin's problem to fix: the run and the
    Integrations page say so in plain words, and no Graph request is made."""
    from integrations.mail.models import SyncRun
    from integrations.setup import secrets
    from integrations.setup.connection import connection_get

    settings.VECTIS_ENCRYPTION_KEYS = [secrets.generate_key()]
    forget_token_apps()
    sync_kit.sim.clear_requests()
    sync_kit.sync(mailboxes=sync_kit.mailboxes()[:1])
    run = SyncRun.objects.get()
    assert run.outcome == "failed" and "cannot be decrypted" in run.error and "VECTIS_ENCRYPTION_KEYS" in run.error
    assert "cannot be decrypted" in connection_get().last_error
    assert sync_kit.sim.requests == []
