"""What the Integrations page shows: the connector's state, each mailbox's health and the posture runs."""

from collections import defaultdict

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from customers.selectors import mailbox_stored_counts
from security.models import CustomerTenant, PostureRun
from security.runs import latest_posture_run

from .mail.models import SyncRun
from .mail.sync import FOLDER_LABELS
from .posture.posture_sync import posture_in_progress
from .setup.claims import claim_stale_after
from .setup.connection import connection_get
from .setup.models import MailboxState

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
        context["posture_run"] = latest_posture_run(finished=True)
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
    stored = mailbox_stored_counts(upns)
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
            "cells": _folder_cells(runs, stored[upn], failing=failing),
            "error": _error_parts(state.last_error) if failing else None,
            "kept": sum(r.kept for r in runs if r), "last_success": last_success, "capped": capped[upn],
            "next_run": (state.next_run_at if state and state.next_run_at else (last_success + interval if last_success else None)),
        })
    last_sync = max((r["last_success"] for r in rows if r["last_success"]), default=None)
    active = any(r["running"] or r["queued"] for r in rows)
    return {"mailbox_rows": rows, "last_sync_at": last_sync, "sync_active": active,
            "sync_request": _sync_request(requested, rows, active)}


def _folder_cells(runs, stored, *, failing):
    """Per folder: what is stored now, what its latest run added, and whether
    the latest attempt stopped before reaching it (an earlier folder failed)."""
    failed = next((run for run in runs if run and run.outcome == SyncRun.Outcome.FAILED), None) if failing else None
    cells = []
    for folder, run in zip(FOLDERS, runs, strict=True):
        not_reached = failed is not None and FOLDERS.index(folder) > FOLDERS.index(failed.folder) and (
            run is None or run.started_at < failed.started_at)
        if run is None:
            last = ""
        elif run.outcome == SyncRun.Outcome.RUNNING:
            last = f"running: {run.kept} kept so far"
        elif run.outcome != SyncRun.Outcome.SUCCESS:
            last = f"last run {run.outcome}: see below"
        elif folder == "calendar":
            last = f"last run: {run.kept} in the window"
        elif run.full:
            last = f"last run: full read, {run.kept} kept"
        else:
            last = f"last run: +{run.kept} new or changed"
        cells.append({"folder": folder, "label": FOLDER_LABELS[folder], "run": run, "stored": stored[folder],
                      "last_run": last, "not_reached": not_reached and FOLDER_LABELS[failed.folder]})
    return cells


def _error_parts(text):
    """A mailbox's error split for reading: what went wrong, then what to do (sync errors say both)."""
    problem, _, advice = text.partition(". What to do: ")
    return {"problem": problem + ("." if advice else ""), "advice": advice}


def _sync_request(requested, rows, active):
    """The latest "Sync now": when it was asked for and whether every mailbox has finished it."""
    if requested is None:
        return None
    done = [r for r in rows if not (r["running"] or r["queued"])]
    finished_at = max((t for r in done for t in (r["last_success"], r["state"] and r["state"].last_error_at) if t),
                      default=None)
    return {"requested_at": requested, "finished": not active, "finished_at": finished_at if not active else None,
            "done": len(done), "total": len(rows), "failing": sum(1 for r in rows if r["failing"])}


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
