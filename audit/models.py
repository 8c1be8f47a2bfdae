"""The append-only audit log.

Rows are only ever inserted (through audit.log.audit_log). On PostgreSQL
triggers reject UPDATE, DELETE and TRUNCATE, and the app's database role may
only INSERT and SELECT here (audit.db_roles); each row also carries a hash
chain (audit.chain) so a change made around all that, by the table's owner,
is still found by `manage.py verify_audit`. References to users and customers are plain ids without a
database constraint (a customer's name is copied in): deleting a customer must not touch its audit rows.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    """Every kind of audit row, with the words the audit page shows. The values
    are what rows store (and what the hash covers): never rename one. The
    labels live here only, not on the model field, so a new action needs no
    migration."""

    SIGN_IN = "auth.login", "Signed in"
    SIGN_IN_FAILED = "auth.login_failed", "Sign-in failed"
    SIGN_IN_LOCKED = "auth.login_locked", "Sign-in locked after repeated failures"
    ADDRESS_THROTTLED = "auth.address_throttled", "Address throttled after repeated failures"
    SIGN_OUT = "auth.logout", "Signed out"
    USER_CREATE = "user.create", "Created user"
    USER_UPDATE = "user.update", "Changed user"
    USER_ROLE_CHANGE = "user.role_change", "Changed user's role"
    USER_DEACTIVATE = "user.deactivate", "Deactivated user"
    USER_TIME_ZONE = "user.time_zone", "Changed own time zone"
    USER_PASSWORD_CHANGE = "user.password_change", "Changed own password"
    USER_PASSWORD_SET = "user.password_set", "Set user's password"
    CUSTOMER_CREATE = "customer.create", "Created customer"
    CUSTOMER_UPDATE = "customer.update", "Changed customer"
    CUSTOMER_DELETE = "customer.delete", "Deleted customer"
    CUSTOMER_IMPORT = "customer.import", "Imported customers from CSV"
    DOMAIN_ADD = "domain.add", "Added domain"
    DOMAIN_REMOVE = "domain.remove", "Removed domain"
    CONTACT_ADD = "contact.add", "Added contact"
    CONTACT_REMOVE = "contact.remove", "Removed contact"
    BODY_FETCH = "body.fetch", "Opened email body"
    M365_CONNECT = "m365.connect", "Connected Microsoft 365"
    M365_CONFIGURE = "m365.configure", "Saved Microsoft 365 connection"
    M365_TEST = "m365.test", "Tested Microsoft 365 connection"
    M365_SECRET_REENCRYPT = "m365.secret_reencrypt", "Re-encrypted Microsoft 365 secret"
    M365_SYNC_START = "m365.sync_start", "Started sync"
    M365_SYNC = "m365.sync", "Synced mailbox"
    M365_MAILBOX_RESYNC = "m365.mailbox_resync", "Started full mailbox resync"
    M365_POSTURE_SYNC_START = "m365.posture_sync_start", "Started security posture sync"
    CUSTOMER_TENANT_CONSENT_LINK = "customer_tenant.consent_link", "Created customer tenant consent link"
    CUSTOMER_TENANT_CONSENT_DECLINED = "customer_tenant.consent_declined", "Customer tenant consent declined"
    CUSTOMER_TENANT_CONSENT_REFUSED = "customer_tenant.consent_refused", "Refused a customer tenant consent answer"
    CUSTOMER_TENANT_LINK = "customer_tenant.link", "Linked customer tenant"
    CUSTOMER_TENANT_TEST = "customer_tenant.test", "Tested customer tenant"
    CUSTOMER_TENANT_UNLINK = "customer_tenant.unlink", "Unlinked customer tenant"
    MFA_EXCEPTION_CREATE = "mfa_exception.create", "Documented MFA exception"
    MFA_EXCEPTION_REVOKE = "mfa_exception.revoke", "Revoked MFA exception"
    SECURITY_EXPORT_CSV = "security.export_csv", "Exported security CSV"
    COMPLIANCE_PACK_DOWNLOAD = "compliance.pack_download", "Downloaded evidence pack"
    AUDIT_EXPORT_CSV = "audit.export_csv", "Exported audit log CSV"


def action_label(value):
    """The words for a stored action; a value no AuditAction names (an action
    retired since the row was written) is shown as stored."""
    return AuditAction(value).label if value in AuditAction.values else value


class AuditEvent(models.Model):
    # Set when the row is built (not at INSERT) because it is part of the hashed content.
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,  # (actor, -at) below serves every lookup by actor
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)  # an AuditAction value
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=255, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True)  # indexed with -at below
    # The customer's name when the row was written: audit never reads the
    # customers table (it sits below customers), and the name outlives a deletion.
    customer_name = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    chain_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["actor", "-at"]), models.Index(fields=["customer_id", "-at"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only")

    @property
    def action_label(self):
        return action_label(self.action)
