"""The one recovery rule for every task that claims work (a mailbox's sync,
the tenant's posture collection, any later per-tenant task).

A claim is a datetime column on one row (MailboxState.running_since for a
mailbox, TaskClaim.heartbeat_at for tenant-wide work), set by a conditional
UPDATE so that of two concurrent runs exactly one wins; SELECT ... FOR UPDATE
is not needed (and is a no-op on SQLite). The running task refreshes it (its
heartbeat) at least every `heartbeat_every()` while it works. A claim whose
heartbeat is older than VECTIS_SYNC_CLAIM_STALE_SECONDS belongs to a worker
that died: the next run takes it over and closes the dead run as
"interrupted". The tasks that claim work are acks_late + reject_on_worker_lost,
and a redelivered task that meets the dead run's claim retries once the claim
is stale (integrations.tasks), so nothing waits for an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import TaskClaim

# How a run closed by the run that took its work over reads in the history.
INTERRUPTED_ERROR = ("Interrupted: the worker stopped mid-run; the next run took over once it had not been "
                     "heard from for the claim's stale time (VECTIS_SYNC_CLAIM_STALE_SECONDS).")


def claim_stale_after() -> timedelta:
    """Read at each use, so a settings override (tests) applies at once."""
    return timedelta(seconds=settings.VECTIS_SYNC_CLAIM_STALE_SECONDS)


def heartbeat_every() -> timedelta:
    return min(timedelta(seconds=60), claim_stale_after() / 4)


class ClaimLost(Exception):
    """Another run took the work over (ours was stale), or the work was removed."""


@dataclass(frozen=True)
class ClaimRow:
    """Where one piece of work keeps its claim: a one-row queryset and its heartbeat column."""

    rows: QuerySet
    field: str

    def take(self, now: datetime | None = None) -> Claim | None:
        now = now or timezone.now()
        free = Q(**{f"{self.field}__isnull": True}) | Q(**{f"{self.field}__lt": now - claim_stale_after()})
        won = self.rows.filter(free).update(**{self.field: now})
        return Claim(self, now) if won else None

    def heartbeat(self) -> datetime | None:
        """When the holder was last heard from (None: nobody holds it)."""
        return self.rows.values_list(self.field, flat=True).first()

    def held(self, now: datetime | None = None) -> bool:
        beat = self.heartbeat()
        return beat is not None and beat >= (now or timezone.now()) - claim_stale_after()

    def stale_at(self) -> datetime | None:
        """When the current claim goes stale if its holder stays silent (None: free)."""
        beat = self.heartbeat()
        return None if beat is None else beat + claim_stale_after()

    def busy_text(self) -> str:
        """For a skipped run and the page: who holds the work and when a dead holder is taken over."""
        beat = self.heartbeat()
        if beat is None:
            return ""
        return (f"last heard from at {beat:%Y-%m-%d %H:%M:%S} UTC; if its worker has stopped, "
                f"it is taken over from {beat + claim_stale_after():%H:%M:%S} UTC")

    def stale_in(self, now: datetime | None = None) -> int:
        """Seconds until the current claim goes stale (0 when it is free or stale already)."""
        at = self.stale_at()
        return 0 if at is None else max(0, round((at - (now or timezone.now())).total_seconds()))


class Claim:
    """A run's hold on its work, taken by ClaimRow.take()."""

    def __init__(self, row: ClaimRow, token: datetime):
        self.row, self.token = row, token

    def refresh(self, *, force=False):
        """The heartbeat. Raises ClaimLost when another run has taken the work over."""
        now = timezone.now()
        if not force and now - self.token < heartbeat_every():
            return
        if not self.row.rows.filter(**{self.row.field: self.token}).update(**{self.row.field: now}):
            raise ClaimLost()
        self.token = now

    def release(self):
        # Only our own claim: if it went stale and another run took it, that one keeps it.
        self.row.rows.filter(**{self.row.field: self.token}).update(**{self.row.field: None})


def task_claim_row(name: str, *, to_take=False) -> ClaimRow:
    """The claim of a tenant-wide task (e.g. "posture"). Its row is created by
    the first run that takes it (to_take); reading it (the page) writes nothing."""
    if to_take:
        TaskClaim.objects.get_or_create(name=name)
    return ClaimRow(TaskClaim.objects.filter(name=name), "heartbeat_at")
