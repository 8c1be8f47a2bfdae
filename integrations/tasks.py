"""Celery tasks: thin shells over the sync services. They take plain ids
(UPNs), return nothing (results are never stored anywhere, so no task can
leak data through them) and never carry message content in their arguments."""

from celery import shared_task
from django.utils import timezone

from customers.retention import communications_purge_old

from .connection import connection_get, current_mailboxes, graph_client_for
from .m365.sync import CLAIM_STALE_AFTER, Claim, mailbox_sync, sync_runs_purge_old
from .models import MailboxState


@shared_task(name="integrations.tasks.sync_all_mailboxes", ignore_result=True)
def sync_all_mailboxes(full=False, reason="schedule"):
    """Fan out one task per allowed mailbox (beat, every VECTIS_MAIL_SYNC_MINUTES;
    the admin's sync button with reason="manual" or "initial"). On the schedule,
    mailboxes whose run is still going are left to it rather than queued behind
    it; a manual request is always queued and records a skipped run if busy."""
    busy = set(
        MailboxState.objects.filter(running_since__gte=timezone.now() - CLAIM_STALE_AFTER).values_list("upn", flat=True)
    )
    for upn in current_mailboxes():
        if reason != "schedule" or upn not in busy:
            sync_mailbox.delay(upn, full=full, reason=reason)


# acks_late + reject_on_worker_lost: a worker killed mid-run gives the task
# back to the broker; the rerun replays pages idempotently once the dead
# run's claim has gone stale.
@shared_task(bind=True, name="integrations.tasks.sync_mailbox", ignore_result=True, acks_late=True,
             reject_on_worker_lost=True, max_retries=3)
def sync_mailbox(self, upn, full=False, reason="schedule"):
    summary = mailbox_sync(upn=upn, full=full, reason=reason)
    if summary and summary["outcome"] == "skipped" and (self.request.delivery_info or {}).get("redelivered"):
        # The message came back because the worker running it died, and that
        # dead run still holds the mailbox's claim (the broker redelivers at
        # once, long before the claim goes stale). Come back when it is stale
        # instead of dropping the rerun until a later schedule.
        raise self.retry(countdown=Claim.stale_in(upn) + 1)


@shared_task(name="integrations.tasks.purge_old_communications", ignore_result=True)
def purge_old_communications():
    """Daily: message/event metadata and sync-run history older than VECTIS_RETENTION_DAYS."""
    communications_purge_old()
    sync_runs_purge_old()


@shared_task(name="integrations.tasks.sync_posture", ignore_result=True)
def sync_posture(run_id=None):
    # Imported here so mail sync never depends on the posture feature's imports.
    from .m365.posture_sync import posture_run_claim, posture_sync

    run = posture_run_claim(run_id=run_id)
    if run is None:
        return
    with graph_client_for(connection_get()) as client:
        posture_sync(client=client, run=run)

