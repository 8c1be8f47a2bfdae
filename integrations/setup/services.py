"""Connection actions: each state change writes its own audit row.
(The actions that start syncs enqueue tasks: integrations.sync_services;
mail's own actions are integrations.mail.services.)"""

from django.db import transaction
from django.utils import timezone

from audit.log import audit_log
from audit.models import AuditAction
from customers.models import OwnDomain

from . import secrets
from .connection import admin_own_domains, connection_get, connection_record_test, own_domains_refresh, secret_expiry_forget
from .mailboxes import mailboxes_forget
from .models import M365Connection


@transaction.atomic
def connection_save(*, actor, tenant_id, client_id, client_secret, mailboxes, secret_expires_on, own_domains=None,
                    tested=None, request=None):
    """Create or update the connection. A blank secret keeps the stored one;
    own_domains (validated, normalised) replaces the admin's list when given;
    `tested` (a TestReport of exactly these values) is recorded with them."""
    connection = connection_get()
    created = connection is None
    before = {} if created else {
        "tenant_id": connection.tenant_id, "client_id": connection.client_id,
        "mailboxes": list(connection.mailboxes),
        "secret_expires_on": connection.secret_expires_on.isoformat() if connection.secret_expires_on else None,
    }
    before["own_domains"] = admin_own_domains()
    if created:
        connection = M365Connection()
    connection.tenant_id = tenant_id
    connection.client_id = client_id
    connection.mailboxes = list(mailboxes)
    connection.secret_expires_on = secret_expires_on
    if client_secret:
        connection.client_secret_encrypted = secrets.encrypt(client_secret)
        connection.secret_set_at = timezone.now()
    if not created and before["tenant_id"] != tenant_id:
        # Another tenant's name, domains and test result no longer apply.
        connection.tenant_name, connection.verified_domains, connection.last_test_ok = "", [], None
    connection.save()
    secret_expiry_forget()
    if own_domains is not None:
        OwnDomain.objects.filter(source="admin").exclude(domain__in=own_domains).delete()
        for domain in own_domains:
            OwnDomain.objects.update_or_create(domain=domain, defaults={"source": "admin"})
    after = {
        "tenant_id": tenant_id, "client_id": client_id, "mailboxes": list(mailboxes),
        "secret_expires_on": secret_expires_on.isoformat() if secret_expires_on else None,
        "own_domains": admin_own_domains(),
    }
    changes = {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}
    removed = sorted(set(before.get("mailboxes", [])) - set(mailboxes))
    details = {"changes": changes, "secret_changed": bool(client_secret), "mailboxes_removed": removed}
    audit_log(actor=actor, action=AuditAction.M365_CONFIGURE if not created else AuditAction.M365_CONNECT, target=connection,
              details=details, request=request)
    own_domains_refresh(connection)
    if removed:
        mailboxes_forget(upns=removed)
    if tested is not None:
        connection_record_test(connection=connection, report=tested)
    return connection


@transaction.atomic
def connection_test_record(*, actor, connection, data, report, of_saved_values=False, request=None):
    """An admin pressed Test: what was checked and what Microsoft answered (never
    the secret). A test of the saved values is remembered on the connection."""
    if of_saved_values:
        connection_record_test(connection=connection, report=report)
    audit_log(actor=actor, action=AuditAction.M365_TEST, request=request, target=connection,
              details={"ok": report.ok, "headline": report.headline, "request_id": report.request_id,
                       "tenant_id": data["tenant_id"], "client_id": data["client_id"],
                       "missing_permissions": report.missing,
                       "mailboxes": {m.upn: m.status for m in report.mailboxes}})


@transaction.atomic
def connection_secret_reencrypt(*, connection, actor_label):
    """Re-encrypt the stored secret under the newest key (raises SecretDecryptionError when no key opens it)."""
    connection.client_secret_encrypted = secrets.rotate(connection.client_secret_encrypted)
    connection.save(update_fields=["client_secret_encrypted", "updated_at"])
    audit_log(actor=None, action=AuditAction.M365_SECRET_REENCRYPT, target=connection, details={"actor_label": actor_label})
