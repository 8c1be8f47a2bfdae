"""The Microsoft 365 connection, the state of each allowed mailbox, and the claims of tenant-wide tasks."""

from django.db import models


class M365Connection(models.Model):
    """The single Microsoft 365 connection (one tenant per Vectis install).

    The client secret is stored only as a Fernet token (integrations.setup.secrets);
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


class TaskClaim(models.Model):
    """The claim of one tenant-wide task (integrations.setup.claims): `heartbeat_at`
    is set by a conditional UPDATE (only where it is NULL or stale) and
    refreshed while the task runs, so the task never runs twice at once."""

    name = models.CharField(max_length=64, unique=True)  # e.g. "posture"
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name
