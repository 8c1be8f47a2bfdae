"""One mailbox's sync run: claim it, resolve it, read inbox, sent items and the
calendar window, record every folder as a SyncRun, release it.

Mailboxes are independent (each task syncs one); within a mailbox the work is
serial, which keeps us well under Graph's 4 concurrent requests per mailbox.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from customers import ingest
from customers.domains import address_domain, address_normalise
from customers.matching import CustomerMatcher, customer_matcher_build

from ..graph import errors
from ..setup import secrets
from ..setup.claims import INTERRUPTED_ERROR, ClaimLost, ClaimRow
from ..setup.connection import connection_get, current_mailboxes, graph_client_for
from ..setup.mailboxes import mailboxes_forget
from ..setup.models import M365Connection, MailboxState
from .calendar_sync import calendar_round
from .mail_sync import FOLDERS, folder_round
from .models import SyncRun
from .services import mailbox_sync_record

logger = logging.getLogger(__name__)

REASONS = ("schedule", "manual", "initial", "command")
FOLDER_LABELS = {"inbox": "Inbox", "sentitems": "Sent items", "calendar": "Calendar"}
PROGRESS_FIELDS = [
    "seen", "kept", "dropped", "removed", "full", "capped", "listed", "graph_requests", "retries", "throttled_seconds",
]


@dataclass(frozen=True)
class SyncContext:
    """What every page of a run needs, built once per run."""

    now: datetime
    matcher: CustomerMatcher
    own_domains: frozenset
    technicians: frozenset


def mailbox_claim_row(upn) -> ClaimRow:
    """A mailbox's claim: MailboxState.running_since (the recovery rule is integrations.setup.claims)."""
    return ClaimRow(MailboxState.objects.filter(upn=upn.strip().lower()), "running_since")


def mailbox_sync(*, upn, full=False, reason="schedule", now=None, client=None):
    """Sync one allowed mailbox. Returns a summary of counts (never content),
    or None when there is no connection or the mailbox is not on the list.

    full: ignore stored delta links and read the 14-day look-back again.
    client: a GraphClient to use instead of one built from the connection (tests)."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}")
    upn = upn.strip().lower()
    connection = connection_get()
    if connection is None or upn not in current_mailboxes():
        return None  # the allow-list is authoritative: not a single request
    MailboxState.objects.get_or_create(upn=upn)
    claim = mailbox_claim_row(upn).take()
    if claim is None:
        return _record_skipped(upn)
    started = timezone.now()
    now = now or started  # the data clock (look-back, calendar window); tests pin it
    # We hold the claim, so a run still marked running was cut off (worker killed).
    SyncRun.objects.filter(mailbox=upn, outcome=SyncRun.Outcome.RUNNING).update(
        outcome=SyncRun.Outcome.INTERRUPTED, finished_at=started, error=INTERRUPTED_ERROR
    )
    runs, error = [], None
    own_client = client is None
    try:
        state = MailboxState.objects.get(upn=upn)
        initial = not state.domains_fingerprint  # never attempted before
        ctx = _context(now=now, connection=connection)
        if full or state.domains_fingerprint != ctx.matcher.fingerprint:
            # New customer domain (or --full): the next rounds look back 14 days again.
            state.inbox_delta_link = state.sentitems_delta_link = ""
            state.domains_fingerprint = ctx.matcher.fingerprint
            state.save(update_fields=["inbox_delta_link", "sentitems_delta_link", "domains_fingerprint"])
            full = True
        client = client or graph_client_for(connection)
        for folder in (*FOLDERS, "calendar"):
            run, error = _folder_run(
                client=client, state=state, folder=folder, ctx=ctx, claim=claim, full=full,
                resolve=(folder == FOLDERS[0] and (full or not state.graph_user_id)),
            )
            runs.append(run)
            if run.outcome != SyncRun.Outcome.SUCCESS:
                break  # the mailbox is unreadable or Graph is unwell: try again next run
    finally:
        claim.release()
        if own_client and client is not None:
            client.close()
        if upn not in current_mailboxes():
            # Removed from the list while this run was writing: forget it again.
            mailboxes_forget(upns=[upn])
    summary = _summary(upn, runs, full=full, reason=reason)
    _record_outcome(connection=connection, upn=upn, runs=runs, started=started,
                    credentials_failed=isinstance(error, (errors.AuthenticationError, secrets.SecretDecryptionError)))
    if reason != "schedule" or initial:
        mailbox_sync_record(upn=upn, summary=summary)
    return summary


def _context(*, now, connection):
    technicians = frozenset(address_normalise(m) for m in connection.mailboxes)
    matcher = customer_matcher_build()
    own = set(ingest.own_domains()) | {address_domain(m) for m in technicians}
    # A domain that is also a customer's is never the MSP's own: mail from it is the customer's.
    own = {domain for domain in own if domain and not matcher.is_customer_domain(domain)}
    return SyncContext(now=now, matcher=matcher, own_domains=frozenset(own), technicians=technicians)


def _folder_run(*, client, state, folder, ctx, claim, full, resolve):
    """Run one folder as one SyncRun; returns (run, the Graph error that stopped it or None)."""
    error = None
    counters = client.counters
    before = (counters.total_requests, counters.retries, counters.throttled_wait_seconds)
    run = SyncRun.objects.create(mailbox=state.upn, folder=folder, full=full or folder == "calendar")

    def record_counters():
        run.graph_requests = counters.total_requests - before[0]
        run.retries = counters.retries - before[1]
        run.throttled_seconds = round(counters.throttled_wait_seconds - before[2], 3)

    def on_page():
        # Progress for the Integrations page (htmx polls it) and the claim's heartbeat.
        record_counters()
        run.save(update_fields=PROGRESS_FIELDS)
        claim.refresh()

    try:
        if resolve:
            user = client.mailbox_get(state.upn)
            state.graph_user_id = str(user.get("id") or "")[:64]
            MailboxState.objects.filter(pk=state.pk).update(graph_user_id=state.graph_user_id)
        if folder == "calendar":
            calendar_round(client=client, upn=state.upn, ctx=ctx, run=run, on_page=on_page)
            MailboxState.objects.filter(pk=state.pk).update(calendar_synced_at=ctx.now)
        else:
            link = folder_round(client=client, state=state, folder=folder, ctx=ctx, run=run, on_page=on_page, full=full)
            setattr(state, f"{folder}_delta_link", link)
            MailboxState.objects.filter(pk=state.pk).update(**{f"{folder}_delta_link": link})
        run.outcome = SyncRun.Outcome.SUCCESS
    except errors.GraphError as exc:
        run.outcome, run.request_id = SyncRun.Outcome.FAILED, (exc.request_id or "")[:64]
        run.error = f"{exc}. What to do: {exc.advice}"[:4000]
        error = exc
    except ClaimLost:
        run.outcome, run.error = SyncRun.Outcome.FAILED, "Stopped: another run took over this mailbox, or it was removed."
    except secrets.SecretDecryptionError as exc:  # its text names the setting, never a key or the secret
        run.outcome, run.error = SyncRun.Outcome.FAILED, str(exc)
        error = exc
    except Exception as exc:  # a bug or a database failure: record it, keep the other mailboxes going
        logger.exception("sync of one mailbox folder failed (%s)", folder)
        run.outcome, run.error = SyncRun.Outcome.FAILED, f"Internal error ({type(exc).__name__}); see the worker log."
    record_counters()
    run.finished_at = timezone.now()
    run.save()
    return run, error


def _record_skipped(upn):
    now = timezone.now()
    busy = mailbox_claim_row(upn).busy_text()
    SyncRun.objects.create(
        mailbox=upn, folder="all", started_at=now, finished_at=now, outcome=SyncRun.Outcome.SKIPPED,
        error=f"Another sync of this mailbox is running ({busy})." if busy else "",
    )
    return {"mailbox": upn, "outcome": str(SyncRun.Outcome.SKIPPED), "runs": {}}


def _record_outcome(*, connection, upn, runs, started, credentials_failed):
    failed = next((run for run in runs if run.outcome != SyncRun.Outcome.SUCCESS), None)
    now = timezone.now()
    update = {"next_run_at": now + timedelta(minutes=settings.VECTIS_MAIL_SYNC_MINUTES)}
    if failed is None and runs:
        update.update(last_success_at=now, last_error="")
    elif failed is not None:
        update.update(last_error=_mailbox_error_text(upn, failed)[:4000], last_error_at=now)
    MailboxState.objects.filter(upn=upn).update(**update)
    if credentials_failed:
        M365Connection.objects.filter(pk=connection.pk).update(last_error=failed.error, last_error_at=now)
    elif failed is None and runs:
        # A sync that worked clears an earlier sync's credential error (not a newer one).
        earlier = M365Connection.objects.filter(pk=connection.pk, last_error_at__lt=started).exclude(last_error="")
        earlier.update(last_error="")


def _mailbox_error_text(upn, failed):
    """The mailbox's error as the admin reads it: which mailbox and folder, what
    went wrong and what to do, and which folders this run therefore left unread."""
    order = [*FOLDERS, "calendar"]
    left = [FOLDER_LABELS[f] for f in order[order.index(failed.folder) + 1:]] if failed.folder in order else []
    text = f"{upn}, {FOLDER_LABELS.get(failed.folder, failed.folder)}: {failed.error}"
    if left:
        text += (f" {' and '.join(left)} {'was' if len(left) == 1 else 'were'} not synced this run "
                 f"(they are read after {FOLDER_LABELS[failed.folder]}); the next run tries all again.")
    return text


def _summary(upn, runs, *, full, reason):
    failed = any(run.outcome != SyncRun.Outcome.SUCCESS for run in runs)
    return {
        "mailbox": upn,
        "reason": reason,
        "full": full,
        "outcome": str(SyncRun.Outcome.FAILED if failed else SyncRun.Outcome.SUCCESS),
        "runs": {
            run.folder: {
                "outcome": str(run.outcome), "seen": run.seen, "kept": run.kept, "dropped": run.dropped,
                "removed": run.removed, "capped": run.capped, "listed": run.listed,
                "graph_requests": run.graph_requests, "requests_per_thousand": run.requests_per_thousand,
                "retries": run.retries, "throttled_seconds": run.throttled_seconds,
            }
            for run in runs
        },
    }


def sync_runs_purge_old(*, days=None, now=None):
    """SyncRun rows are counts only, but 20 mailboxes x 3 folders every 10
    minutes add up: keep them as long as the communications themselves."""
    cutoff = (now or timezone.now()) - timedelta(days=days or settings.VECTIS_RETENTION_DAYS)
    return SyncRun.objects.filter(started_at__lt=cutoff).delete()[0]
