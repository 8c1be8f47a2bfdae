"""Data follows the configuration (allow-list, customer domains, customers,
retention), the run claim, the management command, the tasks and the audit."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from customers.models import (
    Customer,
    CustomerDomain,
    Event,
    EventCustomer,
    EventHolder,
    Message,
    MessageCustomer,
    MessageHolder,
)
from customers.retention import communications_forget_unmatched, communications_purge_old
from customers.services import customer_delete, domain_add, domain_remove
from integrations import tasks
from integrations.mail.models import SyncRun
from integrations.mail.sync import mailbox_claim_row, sync_runs_purge_old
from integrations.setup.claims import claim_stale_after
from integrations.setup.connection import connection_get
from integrations.setup.models import MailboxState
from integrations.setup.services import connection_save
from vectis.celery import app as celery_app


def _save_mailboxes(mailboxes):
    conn = connection_get()
    connection_save(actor=None, tenant_id=conn.tenant_id, client_id=conn.client_id, client_secret="",
                    mailboxes=mailboxes, secret_expires_on=None)


@pytest.fixture
def eager_tasks(monkeypatch):
    """Run .delay() in-process even when REDIS_URL makes Celery use a broker."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", True)


# ------------------------------------------------------------------ allow-list


def test_removed_mailbox_loses_its_rows_and_state_and_is_never_queried_again(sync_kit, eager_tasks):
    jane, jack, *others = sync_kit.mailboxes()
    sync_kit.sync()
    shared = Message.objects.filter(holders__mailbox=jack).filter(holders__mailbox=jane).distinct()
    shared_ids = set(shared.values_list("id", flat=True))
    assert shared_ids
    runs_before = SyncRun.objects.filter(mailbox=jack).count()

    _save_mailboxes([jane, *others])

    assert not MessageHolder.objects.filter(mailbox=jack).exists()
    assert not EventHolder.objects.filter(mailbox=jack).exists()
    assert not MailboxState.objects.filter(upn=jack).exists()
    assert SyncRun.objects.filter(mailbox=jack).count() == runs_before  # history of counts stays
    assert shared_ids <= set(Message.objects.values_list("id", flat=True))  # jane still holds these
    sync_kit.assert_ground_truth(mailboxes=[jane, *others])

    sync_kit.sim.clear_requests()
    tasks.sync_all_mailboxes.apply()
    tasks.sync_mailbox.apply(args=[jack])
    assert sync_kit.sim.requests
    assert not any(jack in (r["user"] or "").lower() or jack in r["path"].lower() for r in sync_kit.sim.requests)
    assert not MailboxState.objects.filter(upn=jack).exists()


# ------------------------------------------------------------------ customer domains


def test_new_customer_domain_picks_up_its_last_14_days(sync_kit):
    row = CustomerDomain.objects.get(domain="litware.example")
    customer = row.customer
    row.delete()
    sync_kit.sync()
    sync_kit.assert_ground_truth()
    litware_before = sync_kit.message_truth()

    domain_add(actor=None, customer=customer, domain="litware.example")
    sync_kit.sync()

    sync_kit.assert_ground_truth()
    assert len(sync_kit.message_truth()) > len(litware_before)
    assert MessageCustomer.objects.filter(customer=customer).exists()
    assert all(run.full for run in SyncRun.objects.filter(folder="inbox")[:4])
    # and the round after that is incremental again
    sync_kit.sync()
    assert not any(run.full for run in SyncRun.objects.filter(folder="inbox")[:4])


def test_removed_domain_forgets_what_touches_no_customer_and_keeps_the_rest(sync_kit):
    sync_kit.sync()
    fabrikam = CustomerDomain.objects.get(domain="fabrikam.example")
    customer = fabrikam.customer
    assert MessageCustomer.objects.filter(customer=customer).exists()

    domain_remove(actor=None, domain_row=fabrikam)

    sync_kit.assert_ground_truth()
    assert not MessageCustomer.objects.filter(customer=customer).exists()
    assert not EventCustomer.objects.filter(customer=customer).exists()
    assert Customer.objects.filter(pk=customer.pk).exists()


def test_removed_customer_forgets_what_touches_no_other_customer(sync_kit):
    sync_kit.sync()
    northwind = Customer.objects.get(domains__domain="northwind.example")
    before = Message.objects.count()

    customer_delete(actor=None, customer=northwind)

    assert Message.objects.count() < before
    sync_kit.assert_ground_truth()
    assert not Message.objects.filter(customer_links__isnull=True).exists()
    assert not Event.objects.filter(customer_links__isnull=True).exists()


def test_forget_unmatched_with_no_scope_rechecks_everything(sync_kit):
    sync_kit.sync()
    CustomerDomain.objects.filter(domain__in=["adatum.example", "tailspin.example"]).delete()  # bypassing the service

    communications_forget_unmatched()

    sync_kit.assert_ground_truth()


# ------------------------------------------------------------------ retention


def test_retention_purges_metadata_older_than_the_setting(sync_kit, settings):
    sync_kit.sync()
    cutoff = sync_kit.now - timedelta(days=5)
    old_messages = Message.objects.filter(received_at__lt=cutoff).count()
    old_events = Event.objects.filter(ends_at__lt=cutoff).count()
    assert old_messages and old_events

    settings.VECTIS_RETENTION_DAYS = 5
    assert communications_purge_old(now=sync_kit.now) == (old_messages, old_events)

    assert not Message.objects.filter(received_at__lt=cutoff).exists()
    assert not Event.objects.filter(ends_at__lt=cutoff).exists()
    assert not MessageHolder.objects.filter(message__isnull=True).exists()
    assert Message.objects.exists() and Event.objects.exists()
    assert sync_runs_purge_old(now=timezone.now() + timedelta(days=6)) == 12  # 4 mailboxes x 3 folders
    assert not SyncRun.objects.exists()


def test_purge_task_keeps_recent_data(sync_kit):
    sync_kit.sync()
    messages, runs = Message.objects.count(), SyncRun.objects.count()

    tasks.purge_old_communications.apply()

    assert Message.objects.count() == messages and SyncRun.objects.count() == runs


# ------------------------------------------------------------------ the claim


def test_a_mailbox_already_running_is_not_started_twice(sync_kit):
    jane = sync_kit.mailboxes()[0]
    MailboxState.objects.create(upn=jane)
    claim = mailbox_claim_row(jane).take()
    assert claim is not None and mailbox_claim_row(jane).take() is None  # the conditional UPDATE lets one win
    sync_kit.sim.clear_requests()

    [summary] = sync_kit.sync([jane])

    assert summary["outcome"] == "skipped"
    assert not sync_kit.sim.requests
    skipped = SyncRun.objects.get(mailbox=jane)
    assert skipped.outcome == "skipped" and "Another sync of this mailbox is running" in skipped.error
    assert f"last heard from at {claim.token:%Y-%m-%d %H:%M:%S} UTC" in skipped.error
    assert MailboxState.objects.get(upn=jane).running_since == claim.token  # not released by the loser

    claim.release()
    [summary] = sync_kit.sync([jane])
    assert summary["outcome"] == "success"
    assert MailboxState.objects.get(upn=jane).running_since is None


def test_a_stale_claim_is_taken_over_and_the_dead_run_cannot_release_it(sync_kit):
    jane = sync_kit.mailboxes()[0]
    MailboxState.objects.create(upn=jane)
    dead = mailbox_claim_row(jane).take(now=timezone.now() - claim_stale_after() - timedelta(minutes=1))
    assert dead is not None
    cut_off = SyncRun.objects.create(mailbox=jane, folder="inbox", kept=7)  # its worker was killed

    live = mailbox_claim_row(jane).take()
    assert live is not None
    dead.release()
    assert MailboxState.objects.get(upn=jane).running_since == live.token
    live.release()
    [summary] = sync_kit.sync([jane])
    assert summary["outcome"] == "success"
    cut_off.refresh_from_db()
    assert cut_off.outcome == "interrupted" and "Interrupted" in cut_off.error and cut_off.finished_at


def test_busy_mailboxes_are_not_queued_again_by_the_schedule(sync_kit, eager_tasks):
    jane, *others = sync_kit.mailboxes()
    MailboxState.objects.create(upn=jane)
    claim = mailbox_claim_row(jane).take()

    tasks.sync_all_mailboxes.apply()

    assert not SyncRun.objects.filter(mailbox=jane).exists()
    assert SyncRun.objects.filter(mailbox__in=others, outcome="success").count() == 3 * len(others)
    claim.release()


# ------------------------------------------------------------------ command, tasks, audit


def test_command_syncs_inline_and_prints_counts(sync_kit):
    out = StringIO()

    call_command("sync_m365", stdout=out)

    sync_kit.assert_ground_truth()
    text = out.getvalue()
    for upn in sync_kit.mailboxes():
        assert f"{upn}" in text
    inbox = SyncRun.objects.filter(folder="inbox").first()
    assert f"{inbox.kept:>8}" in text and "success" in text

    out = StringIO()
    call_command("sync_m365", "--mailbox", sync_kit.mailboxes()[0].upper(), "--full", stdout=out)
    assert out.getvalue().count("success") == 3


def test_command_refuses_a_mailbox_off_the_list_without_a_request(sync_kit):
    sync_kit.sim.clear_requests()
    with pytest.raises(CommandError, match="Not on the Technician Mailboxes list"):
        call_command("sync_m365", "--mailbox", "ceo@contoso-msp.example", stdout=StringIO())
    assert not sync_kit.sim.requests


def test_command_exits_non_zero_when_a_mailbox_fails(sync_kit):
    sync_kit.sim.faults.set("mailbox_not_enabled", mailboxes=[sync_kit.mailboxes()[1]])
    err = StringIO()
    with pytest.raises(CommandError, match="1 mailbox"):
        call_command("sync_m365", stdout=StringIO(), stderr=err)
    assert "request-id" in err.getvalue()


def test_schedule_fans_out_one_task_per_allowed_mailbox(sync_kit, eager_tasks):
    tasks.sync_all_mailboxes.apply()

    sync_kit.assert_ground_truth()
    assert set(SyncRun.objects.values_list("mailbox", flat=True)) == set(sync_kit.mailboxes())


def test_sync_audit_rows_hold_counts_only_and_skip_routine_runs(sync_kit):
    jane = sync_kit.mailboxes()[0]
    sync_kit.sync([jane])  # initial: audited
    sync_kit.sync([jane])  # routine schedule: not audited
    sync_kit.sync([jane], reason="manual")

    rows = AuditEvent.objects.filter(action="m365.sync")
    assert rows.count() == 2
    subjects = set(Message.objects.values_list("subject", flat=True))
    for row in rows:
        assert row.target_id == jane and row.actor is None
        assert set(row.details) >= {"mailbox", "reason", "outcome", "runs"}
        assert set(row.details["runs"]["inbox"]) == {
            "outcome", "seen", "kept", "dropped", "removed", "capped", "listed", "graph_requests",
            "requests_per_thousand", "retries", "throttled_seconds",
        }
        assert not any(subject and subject in repr(row.details) for subject in subjects)
    assert {row.details["reason"] for row in rows} == {"schedule", "manual"}


def test_no_connection_means_no_sync(db, graph_sim):
    from integrations.mail.sync import mailbox_sync

    assert mailbox_sync(upn="jane@contoso-msp.example") is None
    assert not graph_sim.simulator.requests
