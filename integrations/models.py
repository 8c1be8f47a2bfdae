"""The Microsoft 365 connection, per-mailbox sync state, and the record of every mailbox sync run."""

from django.db import models

from security.models import RunRecord


class M365Connection(models.Model):
    """The single Microsoft 365 connection (one tenant per Vectis install).

    The client secret is stored only as a Fernet token (integrations.m365.secrets);
    it is never rendered back, logged or put in an audit row.
    """

    tenant_id = models.CharField(max_length=36)
    client_id = models.CharField(max_length=36)
    client_secret_encrypted = models.TextField()
    secret_set_at = models.DateTimeField()
    secret_expires_on = models.DateField(null=True, blank=True)
    # The authoritative allow-list: lowercase UPNs, deduplicated, in entry order.
    mailboxes = models.JSONField(default=list)
    tenant_name = models.CharField(max_length=256, blank=True)
    verified_domains = models.JSONField(default=list, blank=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_test_summary = models.CharField(max_length=500, blank=True)
    granted_permissions = models.JSONField(default=list, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    initial_sync_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One tenant per install: a unique index on a constant admits one row.
            models.UniqueConstraint(models.Value(1), name="integrations_one_m365_connection"),
        ]

    def __str__(self):
        return f"Microsoft 365 tenant {self.tenant_id}"


class MailboxState(models.Model):
    """Sync state of one allowed mailbox: delta links per folder and the run claim.

    `running_since` is the claim: a run sets it with a conditional UPDATE
    (only where it is NULL or stale), so the same mailbox never syncs twice at once.
    """

    upn = models.CharField(max_length=320, unique=True)
    graph_user_id = models.CharField(max_length=64, blank=True)
    inbox_delta_link = models.TextField(blank=True)
    sentitems_delta_link = models.TextField(blank=True)
    # The customer-domain set the delta links were started with; a new domain
    # means a fresh 14-day look-back.
    domains_fingerprint = models.CharField(max_length=64, blank=True)
    calendar_synced_at = models.DateTimeField(null=True, blank=True)
    running_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["upn"]

    def __str__(self):
        return self.upn


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


class TaskClaim(models.Model):
    """The claim of one tenant-wide task (integrations.claims): `heartbeat_at`
    is set by a conditional UPDATE (only where it is NULL or stale) and
    refreshed while the task runs, so the task never runs twice at once."""

    name = models.CharField(max_length=64, unique=True)  # e.g. "posture"
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name
