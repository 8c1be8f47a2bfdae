"""The record of every mailbox sync run."""

from django.db import models

from security.models import RunRecord


class SyncRun(RunRecord):
    """One sync of one mailbox folder (inbox, sentitems or calendar)."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCESS = "success"
        FAILED = "failed"
        SKIPPED = "skipped"
        # Its worker died mid-run; closed by the run that took the mailbox over.
        INTERRUPTED = "interrupted"

    mailbox = models.CharField(max_length=320, db_index=True)
    folder = models.CharField(max_length=16)  # inbox | sentitems | calendar
    full = models.BooleanField(default=False)  # started from scratch (no delta link)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    seen = models.PositiveIntegerField(default=0)
    kept = models.PositiveIntegerField(default=0)
    dropped = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    # Graph returns at most 5,000 messages for a filtered delta round and then
    # hands out a delta link as if it were complete. capped: this round hit
    # that cap; listed: messages the round left out, read instead by listing
    # the folder (receivedDateTime within the look-back, newest first).
    capped = models.BooleanField(default=False)
    listed = models.PositiveIntegerField(default=0)

    class Meta(RunRecord.Meta):
        indexes = [models.Index(fields=["mailbox", "-started_at"])]

    @property
    def requests_per_thousand(self):
        """Graph requests per 1,000 items seen (None when nothing was seen):
        the page-size figure, about 1 for an initial read of a big folder."""
        return round(self.graph_requests * 1000 / self.seen, 2) if self.seen else None
