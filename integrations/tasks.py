"""Celery tasks: thin shells over the sync services. They take plain ids
(UPNs), return nothing (results are never stored anywhere, so no task can
leak data through them) and never carry message content in their arguments.

Every task that claims work (a mailbox, the tenant's posture) follows the one
recovery rule of integrations.setup.claims; docs/operations.md audits each task."""

from celery import shared_task
from django.utils import timezone

from customers.retention import communications_purge_old

from .mail.sync import mailbox_claim_row, mailbox_sync, sync_runs_purge_old
from .setup.claims import claim_stale_after
from .setup.connection import connection_get, current_mailboxes
from .setup.models import MailboxState

# For every task: acks_late + reject_on_worker_lost, so a worker killed
# mid-run gives the message back to the broker (the pool's parent rejects it
# at once; a dead host's message returns after Redis's visibility timeout) and
# the rerun replays it. Safe because every task is idempotent.
REDELIVERED_IF_LOST = {"ignore_result": True, "acks_late": True, "reject_on_worker_lost": True}
# Tasks that claim work also replay only once the dead run's claim is stale
# (retry_when_stale_if_redelivered); max_retries bounds a task that kills its
# worker every time (say, out of memory) to a few rounds, then it is dropped.
CLAIMING_TASK = {**REDELIVERED_IF_LOST, "bind": True, "max_retries": 3}


def retry_when_stale_if_redelivered(task, stale_in):
    """A claiming task found its work claimed. If the message came back because
    the worker running it died, that dead run still holds the claim (the broker
    redelivers at once, long before the claim goes stale): come back when it is
    stale instead of dropping the rerun until a later schedule. Otherwise a
    live run is doing the work and this request is done."""
    if (task.request.delivery_info or {}).get("redelivered"):
        raise task.retry(countdown=stale_in + 1)


@shared_task(name="integrations.tasks.sync_all_mailboxes", **REDELIVERED_IF_LOST)
def sync_all_mailboxes(full=False, reason="schedule"):
    """Fan out one task per allowed mailbox (beat, every VECTIS_MAIL_SYNC_MINUTES;
    the admin's sync button with reason="manual" or "initial"). On the schedule,
    mailboxes whose run is still going are left to it rather than queued behind
    it; a manual request is always queued and records a skipped run if busy."""
    busy = set(
        MailboxState.objects.filter(running_since__gte=timezone.now() - claim_stale_after()).values_list("upn", flat=True)
    )
    for upn in current_mailboxes():
        if reason != "schedule" or upn not in busy:
            sync_mailbox.delay(upn, full=full, reason=reason)


@shared_task(name="integrations.tasks.sync_mailbox", **CLAIMING_TASK)
def sync_mailbox(self, upn, full=False, reason="schedule"):
    summary = mailbox_sync(upn=upn, full=full, reason=reason)
    if summary and summary["outcome"] == "skipped":
        retry_when_stale_if_redelivered(self, mailbox_claim_row(upn).stale_in())


@shared_task(name="integrations.tasks.purge_old_communications", **REDELIVERED_IF_LOST)
def purge_old_communications():
    """Daily: message/event metadata and sync-run history older than VECTIS_RETENTION_DAYS."""
    communications_purge_old()
    sync_runs_purge_old()


@shared_task(name="integrations.tasks.sync_posture", **CLAIMING_TASK)
def sync_posture(self, run_id=None, reason="schedule"):
    """Daily (beat) and from the Integrations page; it also fans out one collection per linked customer tenant. run_id is accepted from
    messages queued by earlier versions (which created the run first) and is
    not used: the run is created once the claim is won."""
    # Imported here so mail sync never depends on the posture feature's imports.
    from .posture.posture_sync import posture_claim_row, posture_collect

    connection = connection_get()
    if connection is None:
        return
    if reason != "resume":  # a resumed MSP collection leaves the tenants' own runs alone
        sync_customer_tenants_posture.delay()
    run = posture_collect(connection=connection)
    if run.outcome == run.Outcome.SKIPPED:
        retry_when_stale_if_redelivered(self, posture_claim_row().stale_in())


@shared_task(name="integrations.tasks.sync_customer_tenants_posture", **REDELIVERED_IF_LOST)
def sync_customer_tenants_posture():
    """One task per linked customer tenant, so one failing tenant fails alone.
    How many run at once is the worker pool's concurrency; each client keeps
    to Graph's per-tenant pacing (identity reports, Conditional Access)."""
    from .posture.tenant_posture import linked_customer_ids

    for customer_id in linked_customer_ids():
        sync_customer_tenant_posture.delay(customer_id)


@shared_task(name="integrations.tasks.sync_customer_tenant_posture", **CLAIMING_TASK)
def sync_customer_tenant_posture(self, customer_id):
    from .posture.tenant_posture import tenant_claim_row, tenant_posture_collect

    if tenant_posture_collect(customer_id=customer_id) == "skipped":
        retry_when_stale_if_redelivered(self, tenant_claim_row(customer_id).stale_in())


@shared_task(name="integrations.tasks.resume_orphaned_work", **REDELIVERED_IF_LOST)
def resume_orphaned_work():
    """Every third of the stale time (beat): a posture collection whose worker
    died and whose message is gone or still held by Redis is started again, so
    it is taken over within the stale time without anyone pressing a button.
    (Mailboxes need no sweep: the mail schedule queues every mailbox whose
    claim is stale.)"""
    from .posture.posture_sync import posture_run_orphaned

    if connection_get() is not None and posture_run_orphaned():
        sync_posture.delay(reason="resume")
