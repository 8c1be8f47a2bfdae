"""Directory users matched to customers, their MFA method types and roles,
and the daily per-customer posture snapshots that history and evidence cite.

Only method *type* names are stored (e.g. "fido2"): never device names,
phone numbers, keys or any other secret material.
"""

from django.db import models
from django.utils import timezone

from customers.models import Customer


class DirectoryUser(models.Model):
    """A tenant user whose UPN matched a customer domain (others are only counted)."""

    # Unique per customer, not globally: object ids come from several tenants
    # (the MSP's and each linked customer's), and one tenant must never be able
    # to overwrite another's row by sending the same id.
    graph_id = models.CharField(max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="directory_users")
    user_principal_name = models.CharField(max_length=320)
    display_name = models.CharField(max_length=256, blank=True)
    account_enabled = models.BooleanField(default=True)
    user_type = models.CharField(max_length=16, default="member")  # member | guest
    # None means the data cannot decide (no report licence and no per-user data).
    mfa_registered = models.BooleanField(null=True)
    method_types = models.JSONField(default=list, blank=True)  # method type names only
    mfa_source = models.CharField(max_length=16, blank=True)  # "report" | "methods" | ""
    # [{"template_id": "...", "name": "Global Administrator"}], privileged roles only
    privileged_roles = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user_principal_name"]
        indexes = [models.Index(fields=["customer", "user_principal_name"])]
        constraints = [models.UniqueConstraint(fields=["customer", "graph_id"], name="one_directory_user_per_customer")]

    def __str__(self):
        return self.user_principal_name

    @property
    def is_privileged(self):
        return bool(self.privileged_roles)


class PostureSnapshot(models.Model):
    """One customer's posture on one day: the figures, the population behind
    them and where the data came from. Evidence packs are built from this alone,
    so the same snapshot always gives the same pack."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="posture_snapshots")
    taken_on = models.DateField()
    as_of = models.DateTimeField()  # when the data was collected (end of the run)
    # {"users_total", "in_scope", "excluded_guests", "excluded_disabled", "mfa_registered",
    #  "mfa_not_registered", "mfa_unknown", "coverage_pct" (null when undecidable),
    #  "privileged_in_scope", "privileged_mfa_registered", "privileged_mfa_not_registered",
    #  "privileged_mfa_unknown", "privileged_mfa_pct", "weak_method_share_pct", ...}
    metrics = models.JSONField(default=dict)
    # Every user of the customer at collection: [{"graph_id", "upn", "display_name",
    #  "user_type", "account_enabled", "in_scope", "scope_reason", "mfa_registered"
    #  (true/false/null), "method_types": [...], "strongest": "phishing_resistant"|
    #  "standard"|"weak"|"none"|"unknown", "mfa_source", "privileged_roles": [{template_id, name}]}]
    users = models.JSONField(default=list)
    # {"tenant_id", "tenant_name", "graph_base_url", "api_version", "endpoints": [...],
    #  "permissions_granted": [...], "mfa_source": "report"|"methods", "report_unavailable_reason",
    #  "collection_started", "collection_finished", "privileged_role_rule": [...],
    #  "app_version"}
    provenance = models.JSONField(default=dict)

    class Meta:
        ordering = ["customer", "-taken_on"]
        constraints = [models.UniqueConstraint(fields=["customer", "taken_on"], name="one_snapshot_per_customer_day")]
        indexes = [models.Index(fields=["taken_on"])]

    def __str__(self):
        return f"{self.customer} {self.taken_on}"


class MfaException(models.Model):
    """A documented reason why one user is allowed not to be MFA-protected
    (break-glass account, service account, MFA done by an external provider...).

    An exception never removes the user from any denominator: figures are
    shown with and without exceptions side by side. It applies to snapshots
    collected on or before `expires_on` and is then flagged as expired.
    Created and revoked only through security.exceptions (which audits)."""

    class Kind(models.TextChoices):
        BREAK_GLASS = "break_glass", "Break-glass (emergency access) account"
        SERVICE_ACCOUNT = "service_account", "Service account"
        EXTERNAL_MFA = "external_mfa", "MFA by an external provider (e.g. Duo)"
        OTHER = "other", "Other"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="mfa_exceptions")
    graph_id = models.CharField(max_length=64)  # the directory user's object id
    user_principal_name = models.CharField(max_length=320)  # as it was when recorded
    kind = models.CharField(max_length=32, choices=Kind.choices)
    reason = models.TextField()
    owner = models.CharField(max_length=200)
    approver = models.CharField(max_length=200)
    expires_on = models.DateField()
    compensating_control = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["customer", "user_principal_name", "-created_at"]
        indexes = [models.Index(fields=["customer", "graph_id"])]

    def __str__(self):
        return f"{self.user_principal_name}: {self.get_kind_display()} until {self.expires_on}"


class RunRecord(models.Model):
    """What every sync run records: when, how many Graph requests it cost, and
    the error with Graph's request id (what Microsoft support asks for)."""

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    graph_requests = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    throttled_seconds = models.FloatField(default=0)
    error = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True
        ordering = ["-started_at", "-id"]


class PostureRun(RunRecord):  # noqa: DJ008 (a run record: no customer data in its name, see pyproject)
    """One tenant-wide posture collection (users, MFA registration, roles)."""

    class Outcome(models.TextChoices):
        RUNNING = "running"
        SUCCESS = "success"
        FAILED = "failed"
        # Another collection held the claim: nothing was read or written.
        SKIPPED = "skipped"
        # Its worker died mid-run; closed by the run that took the collection over.
        INTERRUPTED = "interrupted"

    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RUNNING)
    mfa_source = models.CharField(max_length=16, blank=True)  # report | methods
    # Why the registration report could not be used, in the admin's terms.
    report_unavailable_reason = models.TextField(blank=True)
    users_seen = models.PositiveIntegerField(default=0)
    users_matched = models.PositiveIntegerField(default=0)
    users_unmatched = models.PositiveIntegerField(default=0)
    fallback_users = models.PositiveIntegerField(default=0)

    class Meta(RunRecord.Meta):
        # The table keeps the name it had when the model lived in integrations.
        db_table = "integrations_posturerun"


class CustomerTenant(models.Model):
    """A customer's own Microsoft 365 tenant, linked by its admin's consent to
    the MSP's (multi-tenant) app. A linked customer's posture is read from
    that tenant alone, for posture only (never mail), and no longer by UPN
    domain in the MSP's tenant. Changed only through integrations.posture.tenant_services
    (which audits); the collection's own outcome fields are written by the run."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="tenant_link")
    tenant_id = models.CharField(max_length=36, blank=True)  # blank: not linked (a consent may be pending)
    tenant_name = models.CharField(max_length=256, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    linked_by = models.CharField(max_length=150, blank=True)
    granted_permissions = models.JSONField(default=list, blank=True)  # the token's roles at the last Test
    # The tenant's verified domains, offered to the admin as customer domains (never added silently).
    verified_domains = models.JSONField(default=list, blank=True)
    last_test_summary = models.CharField(max_length=500, blank=True)
    # The pending consent: the nonce inside the signed state, cleared when used (single use).
    consent_nonce = models.CharField(max_length=64, blank=True)
    # The last posture collection from this tenant.
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_fix = models.TextField(blank=True)
    last_request_id = models.CharField(max_length=200, blank=True)
    last_graph_requests = models.PositiveIntegerField(default=0)

    class Meta:
        # One tenant, one customer: two links made at the same moment cannot both pass the check in _record.
        constraints = [models.UniqueConstraint(fields=["tenant_id"], condition=~models.Q(tenant_id=""),
                                               name="security_customertenant_one_customer_per_tenant")]

    def __str__(self):
        return f"{self.customer} → {self.tenant_id or 'not linked'}"

    @property
    def linked(self):
        return bool(self.tenant_id)
