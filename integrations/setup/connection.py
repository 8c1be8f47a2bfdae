"""The Microsoft 365 connection: reading it, its own domains, and building
the Graph client from it (saving it is integrations.services.connection_save). The secret is decrypted only inside the client, when
an access token has to be requested."""

from datetime import date

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from customers.domains import address_domain
from customers.models import OwnDomain
from customers.windows import site_today

from ..graph.client import GraphClient
from . import secrets
from .models import M365Connection, MailboxState

SECRET_EXPIRY_CACHE_KEY = "vectis:m365:secret-expires-on"


def connection_get():
    return M365Connection.objects.order_by("pk").first()


def current_mailboxes():
    """The allow-list as stored right now (read on every check, so a removal is honoured at once)."""
    row = M365Connection.objects.order_by("pk").values_list("mailboxes", flat=True).first()
    return row or []


def graph_client_build(*, tenant_id, client_id, secret_provider, secret_fingerprint, allowed_mailboxes,
                       known_mailbox_ids=None, **overrides):
    return GraphClient(
        tenant_id=tenant_id,
        client_id=client_id,
        secret_provider=secret_provider,
        secret_fingerprint=secret_fingerprint,
        allowed_mailboxes=allowed_mailboxes,
        known_mailbox_ids=known_mailbox_ids,
        graph_base_url=settings.VECTIS_GRAPH_BASE_URL,
        login_base_url=settings.VECTIS_LOGIN_BASE_URL,
        ca_bundle=settings.VECTIS_GRAPH_CA_BUNDLE or None,
        **overrides,
    )


def graph_client_for(connection, **overrides):
    """The client for the saved connection; the allow-list is re-read from the database on every check."""
    encrypted = connection.client_secret_encrypted
    known_ids = dict(MailboxState.objects.exclude(graph_user_id="").values_list("graph_user_id", "upn"))
    return graph_client_build(
        tenant_id=connection.tenant_id,
        client_id=connection.client_id,
        secret_provider=lambda: secrets.decrypt(encrypted),
        secret_fingerprint=secrets.fingerprint(encrypted),
        allowed_mailboxes=current_mailboxes,
        known_mailbox_ids=known_ids,
        **overrides,
    )


def admin_own_domains():
    """The MSP domains an admin listed (Configure → Other MSP domains)."""
    return sorted(OwnDomain.objects.filter(source="admin").values_list("domain", flat=True))


def own_domains_refresh(connection):
    """The MSP's own domains: those of its technician mailboxes. Not the
    tenant's verified domains: a tenant may verify its customers' domains
    too, and mail from a customer would then be taken for the MSP's own."""
    wanted = {address_domain(upn) for upn in connection.mailboxes if address_domain(upn)}
    for domain in wanted - set(admin_own_domains()):
        OwnDomain.objects.update_or_create(domain=domain, defaults={"source": "mailboxes"})
    OwnDomain.objects.filter(source="tenant").delete()


def connection_record_test(*, connection, report):
    """Remember the latest Test result of the saved configuration."""
    connection.last_test_at = timezone.now()
    connection.last_test_ok = report.ok
    connection.last_test_summary = report.headline[:500]
    if report.ok:
        connection.tenant_name = report.tenant_name or connection.tenant_name
        connection.verified_domains = report.verified_domains
        connection.granted_permissions = sorted(report.granted)
    connection.save()
    if report.ok:
        own_domains_refresh(connection)


def _secret_expires_on():
    """The stored secret expiry date (or None), from the cache: every admin page
    shows the banner and only connection_save changes the date, so a page
    costs no query for it."""
    cached = cache.get(SECRET_EXPIRY_CACHE_KEY)
    if cached is None:
        expires = M365Connection.objects.order_by("pk").values_list("secret_expires_on", flat=True).first()
        cached = expires.isoformat() if expires else ""
        cache.set(SECRET_EXPIRY_CACHE_KEY, cached, timeout=None)
    return date.fromisoformat(cached) if cached else None


def secret_expiry_forget():
    """The cached expiry date is stale: connection_save changed the secret or its date."""
    cache.delete(SECRET_EXPIRY_CACHE_KEY)
    # Again once committed: a page read between the save and the commit may have cached the old date.
    transaction.on_commit(lambda: cache.delete(SECRET_EXPIRY_CACHE_KEY))


def secret_expiry_banners():
    """(level, text) banners for every admin page while the secret nears or passes its expiry."""
    expires = _secret_expires_on()
    if expires is None:
        return []
    today = site_today(timezone.now())
    if expires < today:
        return [("error", f"The Microsoft 365 client secret expired on {expires:%d %b %Y}: syncs and body fetches "
                          "fail until you create a new secret in Entra ID and paste its Value in Admin → Integrations.")]
    days = (expires - today).days
    if days <= settings.VECTIS_SECRET_EXPIRY_WARNING_DAYS:
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        return [("warning", f"The Microsoft 365 client secret expires on {expires:%d %b %Y} ({when}). "
                            "Create a new one in Entra ID → Certificates & secrets and paste its Value in Admin → Integrations.")]
    return []
