"""Customer tenants: linking a customer to its own Microsoft 365 tenant by
admin consent, testing that link, and unlinking it.

The MSP's one app registration (multi-tenant) is consented in each customer's
tenant; Vectis then asks that tenant for tokens with the same client id and
secret. A linked tenant is read for posture only: its Graph client has an
empty mailbox allow-list, so no mail or calendar request can ever be sent.

The consent round trip carries a `state` that Vectis signs (django.core.signing)
and binds to one customer, one admin and one nonce; the nonce is kept on the
customer's link row and cleared by a conditional UPDATE when the callback
uses it, so a state works once, only for that admin, and only for
CONSENT_MAX_AGE seconds. Every change goes through one function here that
also writes its audit row.
"""

from __future__ import annotations

import re
import secrets as stdlib_secrets
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.log import audit_log
from audit.models import AuditAction
from customers.domains import domain_problem
from customers.services import domain_validate_for_customer
from security.models import CustomerTenant
from security.services import customer_posture_forget

from ..graph import errors
from ..setup import secrets
from ..setup.connection import connection_get, graph_client_build
from ..setup.diagnostics import TEST_RETRY, TEST_TIMEOUT, PermissionCheck, report_failed

CONSENT_SALT = "vectis.customer-tenant-consent"
CONSENT_MAX_AGE = 15 * 60  # seconds: long enough to forward the link to the customer's admin on a call
# Matched with fullmatch: "$" would also accept a GUID followed by a newline.
TENANT_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# What posture needs in a customer's tenant, and what stops without each. Never mail.
POSTURE_REQUIRED = {
    "User.Read.All": "No user list: the customer's posture cannot be collected.",
    "Directory.Read.All": "Privileged roles and the tenant's name cannot be read.",
    "UserAuthenticationMethod.Read.All": "Per-user MFA methods cannot be read (needed without the report).",
}
POSTURE_OPTIONAL = {
    "Reports.Read.All": "optional — without it (or AuditLog.Read.All) MFA comes from per-user lookups, slower.",
    "Policy.Read.All": "optional — without it, posture shows MFA registration only, not enforcement.",
}
ALTERNATIVES = {"Reports.Read.All": ("AuditLog.Read.All",)}
FIX_CONSENT = ("Send the customer's Global Administrator the consent link again (Link Microsoft 365 tenant) and "
               "ask them to accept every permission listed.")


class ConsentError(Exception):
    """A consent callback Vectis refuses; the message is safe to show."""


@dataclass
class TenantTest:
    ok: bool = False
    headline: str = ""
    cause: str = ""
    fix: str = ""
    request_id: str = ""
    tenant_name: str = ""
    granted: list = field(default_factory=list)
    permissions: list = field(default_factory=list)  # diagnostics.PermissionCheck
    verified_domains: list = field(default_factory=list)

    @property
    def token_ok(self):
        return bool(self.granted) or self.ok


# ------------------------------------------------------------------ clients


def customer_tenant_client(tenant_id, *, test=False):
    """A Graph client for a customer's tenant with the MSP app's credentials.
    The allow-list is empty: nothing in a customer tenant is ever read as mail.
    MSAL's application (and token cache) is shared per tenant through tokens.py."""
    connection = connection_get()
    if connection is None:
        raise errors.AuthenticationError(reason="other", kind="token",
                                         message="Microsoft 365 is not configured (Admin → Integrations)")
    encrypted = connection.client_secret_encrypted
    options = {"retry": TEST_RETRY, "timeout": TEST_TIMEOUT} if test else {}
    return graph_client_build(
        tenant_id=tenant_id, client_id=connection.client_id,
        secret_provider=lambda: secrets.decrypt(encrypted),
        # A test signs in afresh, so a revoked consent is not hidden by a cached token.
        secret_fingerprint=f"test-{uuid.uuid4()}" if test else secrets.fingerprint(encrypted),
        allowed_mailboxes=(), **options,
    )


def customer_tenant_test(tenant_id):
    """Test's diagnostics for a customer tenant: sign in there, read the
    token's roles, the tenant's name and verified domains. Never raises for
    Graph or network trouble."""
    report = TenantTest()
    if not TENANT_ID.fullmatch(tenant_id or ""):
        report.headline = report.cause = "That is not a tenant ID: it is a GUID like 1a2b3c4d-…-…-…-…."
        report.fix = "Copy the Tenant ID from the customer's Entra admin center → Overview."
        return report
    try:
        client = customer_tenant_client(tenant_id, test=True)
    except errors.GraphError as error:
        return _failed(report, error)
    try:
        return _checks(client, report)
    finally:
        client.forget_token()
        client.close()


def _checks(client, report):
    try:
        report.granted = sorted(client.granted_permissions())
    except errors.GraphError as error:
        return _failed(report, error)
    granted = set(report.granted)
    report.permissions = [PermissionCheck(name, name in granted, text) for name, text in POSTURE_REQUIRED.items()]
    report.permissions += [PermissionCheck(name, bool(granted & {name, *ALTERNATIVES.get(name, ())}), text, optional=True)
                           for name, text in POSTURE_OPTIONAL.items()]
    missing = [p.name for p in report.permissions if not p.granted and not p.optional]
    try:
        organization = client.organization_get()
        report.tenant_name = str(organization.get("displayName") or "")[:256]
        report.verified_domains = _verified_domains(client, organization)
    except errors.GraphError as error:
        if not missing:
            return _failed(report, error)
    name = report.tenant_name or "the customer's tenant"
    report.headline = f"Connected to {name} — posture only"
    if missing:
        report.headline += f" (missing permission{'s' if len(missing) > 1 else ''}: {', '.join(missing)})"
        report.fix = FIX_CONSENT
    report.ok = not missing
    return report


def _verified_domains(client, organization):
    try:
        rows = [(d.get("id"), d.get("isVerified")) for d in client.domains_list()]
    except errors.GraphError:  # /domains is refused: /organization's list is verified domains only
        rows = [(d.get("name"), True) for d in organization.get("verifiedDomains") or [] if isinstance(d, dict)]
    return sorted({str(name).lower()[:253] for name, verified in rows if verified is True and isinstance(name, str)})


def _failed(report, error):
    return report_failed(report, error, tenant_error_explain)


def tenant_error_explain(error):
    """(cause, fix) for a customer tenant's failure, in the MSP admin's terms."""
    if isinstance(error, errors.AuthenticationError) and error.reason == "unknown_client":
        return ("The customer's tenant has no consent for Vectis (AADSTS700016): it was never granted, was "
                "revoked, or the Vectis enterprise application was deleted there.", FIX_CONSENT)
    if isinstance(error, errors.AuthenticationError) and error.reason in ("wrong_secret", "expired_secret"):
        return (f"Sign-in failed for every tenant: the app's client secret is {error.reason.split('_')[0]} "
                f"({error.code}).", "Fix the secret in Admin → Integrations → Microsoft 365; every tenant uses it.")
    if isinstance(error, errors.TenantNotFoundError):
        return ("The tenant ID does not resolve to a Microsoft Entra tenant.",
                "Check the Tenant ID in the customer's Entra admin center → Overview.")
    if isinstance(error, errors.LicenceRequiredError):
        return (f"The customer's tenant lacks the licence this read needs: {error}",
                "An Entra ID P1 (or Microsoft 365 Business Premium) licence in the customer's tenant enables it.")
    if isinstance(error, errors.PermissionDeniedError):
        needed = f" ({error.missing_permission})" if error.missing_permission else ""
        return (f"403 Forbidden in the customer's tenant — a permission was not consented{needed}.", FIX_CONSENT)
    if isinstance(error, errors.NetworkError):
        return ("Could not reach Microsoft: the network failed or timed out.", "Wait a minute and test again.")
    if isinstance(error, (errors.ThrottledError, errors.TransientError)):
        return (f"Microsoft Graph is busy or unavailable right now: {error}", "Nothing to do: the next run retries.")
    return (f"Microsoft Graph returned an error: {error}", "Test the link again; if it persists, unlink and link again.")


# ------------------------------------------------------------------ consent round trip


def consent_url_build(*, actor, customer, redirect_uri, request=None):
    """The admin-consent link for `customer`, with a fresh signed state (an
    earlier pending one stops working)."""
    connection = connection_get()
    if connection is None:
        raise ConsentError("Configure Microsoft 365 first (Admin → Integrations): the consent link names its app.")
    nonce = stdlib_secrets.token_urlsafe(24)
    with transaction.atomic():
        link, _ = CustomerTenant.objects.get_or_create(customer=customer)
        link.consent_nonce = nonce
        link.save(update_fields=["consent_nonce"])
        audit_log(actor=actor, action=AuditAction.CUSTOMER_TENANT_CONSENT_LINK, target=link, customer=customer,
                  details={"redirect_uri": redirect_uri}, request=request)
    state = signing.dumps({"c": customer.pk, "u": actor.pk, "n": nonce}, salt=CONSENT_SALT)
    segment = link.tenant_id or "organizations"
    query = urlencode({"client_id": connection.client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{settings.VECTIS_LOGIN_BASE_URL}/{segment}/adminconsent?{query}"


def consent_complete(*, actor, params, request=None):
    """The consent callback. Returns (customer link, TenantTest). Raises
    ConsentError (nothing changed, and an audit row says why) for a forged,
    replayed, expired or foreign state, a declined consent, a malformed
    tenant or one that cannot be linked."""
    link = None
    try:
        link = _consent_state_use(actor=actor, params=params)
        if params.get("error"):
            description = str(params.get("error_description") or params.get("error"))[:300]
            audit_log(actor=actor, action=AuditAction.CUSTOMER_TENANT_CONSENT_DECLINED, target=link,
                      customer=link.customer, request=request,
                      details={"error": str(params.get("error"))[:100], "error_description": description})
            raise ConsentError(f"Consent was not granted: {description}")
        tenant_id = params.get("tenant") or ""
        if str(params.get("admin_consent")).lower() != "true" or not TENANT_ID.fullmatch(tenant_id):
            raise ConsentError("The consent answer names no valid tenant ID: nothing was linked.")
        report = customer_tenant_test(tenant_id.lower())
        if not report.token_ok:
            raise ConsentError(f"Vectis cannot sign in to that tenant, so nothing was linked: {report.cause or report.headline} "
                               "A consent given a moment ago can take a few minutes to reach Microsoft's sign-in: "
                               "then link with the tenant ID (Test and link).")
        _record(actor=actor, link=link, tenant_id=tenant_id.lower(), report=report, how="admin_consent", request=request)
        return link, report
    except ConsentError as refusal:
        if not params.get("error") or link is None:  # a declined consent has its own row
            audit_log(actor=actor, action=AuditAction.CUSTOMER_TENANT_CONSENT_REFUSED, target=link,
                      customer=link.customer if link else None, request=request,
                      details={"reason": str(refusal)[:300], "tenant": str(params.get("tenant") or "")[:64]})
        raise


def _consent_state_use(*, actor, params):
    """The link a signed, unexpired state of this admin names, its nonce spent (single use)."""
    try:
        state = signing.loads(params.get("state") or "", salt=CONSENT_SALT, max_age=CONSENT_MAX_AGE)
    except signing.SignatureExpired:
        raise ConsentError("This consent link has expired: start again from the customer's page.") from None
    except signing.BadSignature:
        raise ConsentError("This consent answer was not started by Vectis (bad state): nothing was linked.") from None
    if not isinstance(state, dict) or state.get("u") != actor.pk:
        raise ConsentError("This consent was started by another administrator: they must finish it.")
    link = CustomerTenant.objects.filter(customer_id=state.get("c")).select_related("customer").first()
    nonce = state.get("n")
    if link is None or not nonce or not CustomerTenant.objects.filter(pk=link.pk, consent_nonce=nonce).update(consent_nonce=""):
        raise ConsentError("This consent answer was already used or replaced by a newer link: nothing was linked.")
    link.consent_nonce = ""  # used: a later save of this row must not bring it back
    return link


def tenant_link_by_id(*, actor, customer, tenant_id, request=None):
    """Link a tenant whose consent was granted elsewhere: linked only when
    Test can sign in there. Returns the TenantTest."""
    tenant_id = (tenant_id or "").strip().lower()
    report = customer_tenant_test(tenant_id)
    if not report.token_ok:
        return report
    link, _ = CustomerTenant.objects.get_or_create(customer=customer)
    _record(actor=actor, link=link, tenant_id=tenant_id, report=report, how="tenant_id", request=request)
    return report


@transaction.atomic
def _record(*, actor, link, tenant_id, report, how, request):
    connection = connection_get()
    if connection is not None and tenant_id == connection.tenant_id.lower():
        # Its directory is the MSP's staff: as a customer's posture it would be false, and in that customer's pack.
        raise ConsentError("That is the MSP's own tenant (the one on Admin → Integrations), not the customer's: "
                           "nothing was linked.")
    clash = CustomerTenant.objects.filter(tenant_id=tenant_id).exclude(pk=link.pk).select_related("customer").first()
    if clash is not None:
        raise ConsentError(f"That tenant is already linked to {clash.customer.name}: unlink it there first.")
    before = link.tenant_id
    if before and before != tenant_id:
        customer_posture_forget(link.customer_id)  # another tenant's data no longer applies
    link.tenant_id = tenant_id
    link.tenant_name = report.tenant_name or link.tenant_name
    link.linked_at, link.linked_by = timezone.now(), actor.get_username()
    link.granted_permissions = list(report.granted)
    link.verified_domains = list(report.verified_domains)
    link.last_test_summary = report.headline[:500]
    try:
        with transaction.atomic():
            link.save()
    except IntegrityError:  # linked to another customer at the same moment (the unique constraint)
        raise ConsentError("That tenant was just linked to another customer: unlink it there first.") from None
    audit_log(actor=actor, action=AuditAction.CUSTOMER_TENANT_LINK, target=link, customer=link.customer,
              details={"tenant_id": tenant_id, "tenant_name": link.tenant_name, "how": how, "previous": before,
                       "test": report.headline[:200], "permissions": list(report.granted)}, request=request)


def customer_tenant_retest(*, actor, link, request=None):
    """Test a linked tenant again and remember the answer (granted permissions, domains)."""
    report = customer_tenant_test(link.tenant_id)  # Graph first: no transaction held open while it answers
    _retest_record(actor=actor, link=link, report=report, request=request)
    return report


@transaction.atomic
def _retest_record(*, actor, link, report, request):
    before = {"permissions": list(link.granted_permissions), "tenant_name": link.tenant_name}
    if report.token_ok:
        link.granted_permissions = list(report.granted)
        link.tenant_name = report.tenant_name or link.tenant_name
        link.verified_domains = list(report.verified_domains)
    link.last_test_summary = report.headline[:500]
    link.save()
    audit_log(actor=actor, action=AuditAction.CUSTOMER_TENANT_TEST, target=link, customer=link.customer,
              request=request, details={"test": report.headline[:200], "before": before,
                                        "after": {"permissions": list(link.granted_permissions),
                                                  "tenant_name": link.tenant_name}})


@transaction.atomic
def tenant_unlink(*, actor, customer, request=None):
    """Unlink in one step: the link goes, and so does every posture stored
    from that tenant (directory users and snapshots). The customer is matched
    by domain in the MSP's tenant again from the next collection. A consent
    still pending is cancelled with it: its answer can no longer link.
    Returns the number of snapshots deleted."""
    link = CustomerTenant.objects.filter(customer=customer).first()
    if link is None:
        return 0
    deleted = customer_posture_forget(customer.pk) if link.linked else 0
    audit_log(actor=actor, action=AuditAction.CUSTOMER_TENANT_UNLINK, target=link, customer=customer,
              details={"tenant_id": link.tenant_id, "tenant_name": link.tenant_name, "snapshots_deleted": deleted,
                       "pending_consent_cancelled": bool(link.consent_nonce)},
              request=request)
    link.delete()
    return deleted


def offered_domains(link):
    """The tenant's verified domains an admin may add as customer domains:
    not already the customer's, and acceptable for this customer at all
    (never a public suffix or free-mail domain, the MSP's own or another
    customer's): what Add would accept."""
    have = set(link.customer.domains.values_list("domain", flat=True))
    offered = []
    for raw in link.verified_domains or []:
        try:
            domain = domain_validate_for_customer(raw, customer=link.customer)
        except ValidationError:
            continue
        if domain not in have and not domain_problem(domain):
            offered.append(domain)
    return offered
