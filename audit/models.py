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
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=255, blank=True)
    customer_id = models.BigIntegerField(null=True, blank=True, db_index=True)
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
