"""What the Integrations page shows: the connector's state, each mailbox's health and the posture runs."""

from collections import defaultdict

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from security.models import CustomerTenant

from .claims import claim_stale_after
from .connection import connection_get
from .m365.posture_sync import posture_in_progress
from .models import MailboxState, PostureRun, SyncRun

FOLDERS = ("inbox", "sentitems", "calendar")
MAIL_FOLDER_LABELS = {"inbox": "Inbox", "sentitems": "Sent items"}
POSTURE_HISTORY = 8  # posture runs listed, newest first


def integrations_status():
    connection = connection_get()
    context = {"connection": connection, "sync_minutes": settings.VECTIS_MAIL_SYNC_MINUTES, **_state(connection)}
    if connection is not None:
        context.update(mailbox_health(connection))
        history = list(PostureRun.objects.order_by("-started_at", "-id")[:POSTURE_HISTORY])
        context["posture_runs"] = history
        # The facts are those of the latest collection that ended with data or an error;
        # running, skipped and interrupted runs are in the history table.
        finished = (PostureRun.Outcome.SUCCESS, PostureRun.Outcome.FAILED)
        context["posture_run"] = PostureRun.objects.filter(outcome__in=finished).order_by("-started_at", "-id").first()
        context["posture_busy"] = posture_in_progress()
        context["customer_tenants"] = list(CustomerTenant.objects.exclude(tenant_id="").select_related("customer")
                                           .order_by("customer__name"))
    return context


def _state(connection):
    if connection is None:
        return {"state": "not_configured", "state_label": "Not configured"}
    if connection.last_error and (connection.last_test_at is None or connection.last_error_at > connection.last_test_at):
        return {"state": "failing", "state_label": "Failing"}
    if connection.last_test_ok is False:
        return {"state": "failing", "state_label": "Failing"}
    if connection.last_test_ok:
        return {"state": "connected", "state_label": "Connected"}
    return {"state": "configured", "state_label": "Configured, not tested"}


def mailbox_health(connection):
    """One row per allowed mailbox: running or queued, last success, last error, next run, latest counts."""
    upns = list(connection.mailboxes)
    states = {s.upn: s for s in MailboxState.objects.filter(upn__in=upns)}
    # The latest runs of these mailboxes: a bounded read, grouped here.
    latest = defaultdict(dict)
    for run in SyncRun.objects.filter(mailbox__in=upns).order_by("-started_at", "-id")[: len(upns) * 12]:
        latest[run.mailbox].setdefault(run.folder, run)
    now = timezone.now()
    capped = defaultdict(list)
    for run in capped_reads(upns):
        capped[run.mailbox].append({"folder": MAIL_FOLDER_LABELS[run.folder], "run": run})
    interval = timezone.timedelta(minutes=settings.VECTIS_MAIL_SYNC_MINUTES)
    requested = connection.initial_sync_requested_at
    rows = []
    for upn in upns:
        state = states.get(upn)
        running = bool(state and state.running_since and state.running_since > now - claim_stale_after())
        last_success = state.last_success_at if state else None
        queued = not running and requested is not None and (last_success is None or last_success < requested) and not (
            state and state.last_error_at and state.last_error_at > requested)
        failing = bool(state and state.last_error and (last_success is None or state.last_error_at > last_success))
        runs = [latest[upn].get(folder) for folder in FOLDERS]
        rows.append({
            "upn": upn, "state": state, "running": running, "queued": queued, "failing": failing, "runs": runs,
            "kept": sum(r.kept for r in runs if r), "last_success": last_success, "capped": capped[upn],
            "next_run": (state.next_run_at if state and state.next_run_at else (last_success + interval if last_success else None)),
        })
    last_sync = max((r["last_success"] for r in rows if r["last_success"]), default=None)
    return {"mailbox_rows": rows, "last_sync_at": last_sync, "sync_active": any(r["running"] or r["queued"] for r in rows)}


def capped_reads(upns):
    """Per mailbox and mail folder, the latest successful full read when Graph
    capped it: that read's delta link is the one in use, and the admin should
    know the rest of its window came from listing the folder. One query."""
    latest_full = SyncRun.objects.filter(
        mailbox=OuterRef("mailbox"), folder=OuterRef("folder"), full=True, outcome=SyncRun.Outcome.SUCCESS,
    ).order_by("-started_at", "-id").values("id")[:1]
    return list(
        SyncRun.objects.filter(mailbox__in=upns, folder__in=list(MAIL_FOLDER_LABELS), capped=True,
                               pk=Subquery(latest_full)).order_by("mailbox", "folder")
    )
