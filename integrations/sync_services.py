"""The actions that start syncs: each writes its audit row and enqueues its
tasks once the transaction commits (a rolled-back request starts nothing)."""

from django.db import transaction
from django.utils import timezone

from audit.log import audit_log
from audit.models import AuditAction

from . import tasks
from .posture.posture_sync import posture_in_progress


@transaction.atomic
def sync_start_action(*, actor, connection, request=None):
    """Sync every allowed mailbox, then the posture. Returns why the posture
    was not started now ("" when it was)."""
    initial = connection.initial_sync_requested_at is None
    connection.initial_sync_requested_at = timezone.now()
    connection.save(update_fields=["initial_sync_requested_at", "updated_at"])
    audit_log(actor=actor, action=AuditAction.M365_SYNC_START, target=connection, request=request,
              details={"initial": initial, "mailboxes": list(connection.mailboxes)})
    transaction.on_commit(lambda: tasks.sync_all_mailboxes.delay(full=False, reason="initial" if initial else "manual"))
    return _posture_start()


@transaction.atomic
def mailbox_resync_start(*, actor, upn, request=None):
    audit_log(actor=actor, action=AuditAction.M365_MAILBOX_RESYNC, target_type="mailbox", target_id=upn, request=request)
    transaction.on_commit(lambda: tasks.sync_mailbox.delay(upn, full=True, reason="manual"))


@transaction.atomic
def posture_sync_start_action(*, actor, connection, request=None):
    """Returns why the collection was not started now ("" when it was)."""
    busy = _posture_start()
    audit_log(actor=actor, action=AuditAction.M365_POSTURE_SYNC_START, target=connection, request=request,
              details={"busy": bool(busy)})
    return busy


def _posture_start():
    """Queue a posture collection. When one is in progress, say so instead
    (since when, and when a dead one is taken over) and queue the request for
    that moment, so a dead run is taken over without anyone pressing again."""
    running = posture_in_progress()
    if running is None:
        transaction.on_commit(lambda: tasks.sync_posture.delay())
        return ""
    countdown = running["takeover_in"] + 1
    transaction.on_commit(lambda: tasks.sync_posture.apply_async(countdown=countdown))
    return (f"Security posture not started: a collection has been running since {running['since']:%Y-%m-%d %H:%M} UTC "
            f"(last heard from at {running['heartbeat']:%H:%M:%S} UTC) and is left to finish. If its worker has stopped, "
            f"it is taken over at {running['takeover_at']:%H:%M:%S} UTC and the collection runs then.")
