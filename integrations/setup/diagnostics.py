"""The connector's Test: what works, what is missing, and how to fix it, in the guide's terms.

Runs against the values typed in the form (saved or not) with a short retry
budget, so the admin gets an answer within a few seconds.
"""

import uuid
from dataclasses import dataclass, field

from ..graph import errors
from ..graph.transport import RetryPolicy
from .connection import graph_client_build

# The six application permissions the guide asks for, and what stops without each.
REQUIRED_PERMISSIONS = {
    "Mail.Read": "Recent emails on customer pages and on-demand message bodies stop working.",
    "Calendars.Read": "Upcoming meetings on customer pages stop working.",
    "User.Read.All": "Technician mailboxes cannot be resolved and the security posture has no user list.",
    "Reports.Read.All": "The MFA registration report cannot be read; Vectis falls back to slower per-user method lookups.",
    "UserAuthenticationMethod.Read.All": "Per-user MFA methods cannot be read: without the report, users' MFA status is unknown.",
    "Directory.Read.All": "Privileged directory roles cannot be listed and the tenant name cannot be read.",
}

# Optional: granted, it adds evidence; missing, nothing breaks and the pages say so.
OPTIONAL_PERMISSIONS = {
    "Policy.Read.All": "optional — without it, posture shows registration only (Conditional Access, Security "
                       "Defaults and per-user MFA are not read, so no enforced or protected figures).",
    "RoleEligibilitySchedule.Read.Directory": "optional — without it (or RoleManagement.Read.Directory), "
                       "PIM-eligible role assignments are not read: only active role holders count as privileged.",
}
# Any of these in the token counts as the optional permission granted.
OPTIONAL_ALTERNATIVES = {
    "RoleEligibilitySchedule.Read.Directory": ("RoleManagement.Read.Directory", "RoleManagement.Read.All"),
}

FIX_PERMISSIONS = ("Open Entra ID → App registrations → Vectis → API permissions, add the missing Microsoft Graph "
                   "application permissions, then click “Grant admin consent” so all six show “Granted for <tenant>”.")

# Test must answer within a few seconds, so it retries little and waits little.
TEST_RETRY = RetryPolicy(max_retries=1, max_network_retries=0, backoff_base=0.5, max_wait=2.0, max_total_wait=3.0)
TEST_TIMEOUT = (3.05, 6)


@dataclass
class PermissionCheck:
    name: str
    granted: bool
    consequence: str
    optional: bool = False


@dataclass
class MailboxCheck:
    upn: str
    status: str  # found | not_found | no_mailbox | blocked | unreachable | error
    detail: str = ""
    request_id: str = ""  # labelled ids (error_ids)

    LABELS = {"found": "found", "not_found": "no such user", "no_mailbox": "user found · no mailbox",
              "blocked": "user found · blocked by access policy", "unreachable": "user found · mailbox unreachable",
              "error": "error"}

    @property
    def label(self):
        return self.LABELS[self.status]


@dataclass
class TestReport:
    ok: bool = False
    headline: str = ""
    cause: str = ""
    fix: str = ""
    request_id: str = ""  # labelled ids (error_ids)
    tenant_name: str = ""
    verified_domains: list = field(default_factory=list)
    granted: set = field(default_factory=set)
    permissions: list = field(default_factory=list)
    mailboxes: list = field(default_factory=list)

    @property
    def missing(self):
        return [p.name for p in self.permissions if not p.granted and not p.optional]


def connection_test(*, tenant_id, client_id, client_secret, mailboxes):
    """Run every check and return a TestReport; never raises for Graph or network trouble."""
    report = TestReport()
    client = graph_client_build(
        tenant_id=tenant_id,
        client_id=client_id,
        secret_provider=lambda: client_secret,
        # A fingerprint of its own: the test signs in afresh rather than reuse a
        # cached token, which would hide an expired or revoked secret.
        secret_fingerprint=f"test-{uuid.uuid4()}",
        allowed_mailboxes=list(mailboxes),
        retry=TEST_RETRY,
        timeout=TEST_TIMEOUT,
    )
    try:
        return _checks(client, report, tenant_id, mailboxes)
    finally:
        client.forget_token()
        client.close()


def _checks(client, report, tenant_id, mailboxes):
    try:
        report.granted = set(client.granted_permissions())
    except errors.GraphError as error:
        return report_failed(report, error)
    report.permissions = [PermissionCheck(name, name in report.granted, text)
                          for name, text in REQUIRED_PERMISSIONS.items()]
    report.permissions += [
        PermissionCheck(name, bool(report.granted & {name, *OPTIONAL_ALTERNATIVES.get(name, ())}), text, optional=True)
        for name, text in OPTIONAL_PERMISSIONS.items()
    ]
    if not report.granted:
        report.headline = "Signed in, but admin consent has not been granted: the app holds no permissions."
        report.cause = "403 Forbidden on every Graph call until consent is granted."
        report.fix = FIX_PERMISSIONS
        return report
    try:
        organization = client.organization_get()
    except errors.GraphError as error:
        return report_failed(report, error)
    report.tenant_name = organization.get("displayName") or tenant_id
    report.verified_domains = sorted({
        str(d.get("name", "")).lower() for d in organization.get("verifiedDomains") or [] if isinstance(d, dict) and d.get("name")
    })
    report.mailboxes = [_mailbox_check(client, upn) for upn in mailboxes]
    problems = []
    if report.missing:
        problems.append(f"missing permission{'s' if len(report.missing) > 1 else ''}: {', '.join(report.missing)}")
    bad_mailboxes = [m for m in report.mailboxes if m.status != "found"]
    if bad_mailboxes:
        problems.append(f"{len(bad_mailboxes)} mailbox{'es' if len(bad_mailboxes) > 1 else ''} not usable")
    count = len(mailboxes)
    report.headline = f"Connected to {report.tenant_name} — {count} mailbox{'es' if count != 1 else ''} configured"
    if problems:
        report.headline += " (" + "; ".join(problems) + ")"
        report.fix = FIX_PERMISSIONS if report.missing else ""
    report.ok = not problems
    return report


def _mailbox_check(client, upn):
    """Two steps, reported apart: does the user exist, and does Exchange Online
    serve its mailbox to this app. A failure names the step that failed."""
    try:
        user = client.mailbox_get(upn)
    except errors.NotFoundError as error:
        return MailboxCheck(upn, "not_found", "No user with this UPN in the tenant: check the spelling.",
                            error_ids(error))
    except errors.GraphError as error:
        return MailboxCheck(upn, "error", f"The user could not be looked up: {error.summary}.", error_ids(error))
    found = f"User found ({user.get('displayName') or upn}), but the mailbox is not reachable: "
    try:
        client.mailbox_probe(upn)
    except errors.MailboxBlockedError as error:
        return MailboxCheck(upn, "blocked", found + "an Exchange application access policy blocks it. Add this "
                            "mailbox to the policy's group (or RBAC for Applications scope).", error_ids(error))
    except errors.NotFoundError as error:
        why = f" ({error.code})" if error.code else ""
        return MailboxCheck(upn, "no_mailbox", found + f"it has no Exchange Online mailbox{why}: unlicensed, "
                            "on-premises or soft-deleted. License it or remove it from the list.", error_ids(error))
    except errors.GraphError as error:
        return MailboxCheck(upn, "unreachable", found + f"{error.summary}.", error_ids(error))
    return MailboxCheck(upn, "found", user.get("displayName") or "")


def error_ids(error):
    """Every id Microsoft support asks for, labelled as Microsoft names them:
    Entra's trace and correlation ids, Graph's request and client-request ids."""
    if error.trace_id or error.correlation_id:
        pairs = [("trace id", error.trace_id), ("correlation id", error.correlation_id)]
    else:
        pairs = [("request-id", error.request_id), ("client-request-id", error.client_request_id)]
    return " · ".join(f"{label} {value}" for label, value in pairs if value)


def report_failed(report, error, explain=None):
    """Fill `report` for a Graph failure: cause and fix (explain(error)), Microsoft's ids."""
    report.ok = False
    report.request_id = error_ids(error)
    report.cause, report.fix = (explain or _explain)(error)
    report.headline = report.cause
    return report


def _explain(error):
    if isinstance(error, errors.AuthenticationError):
        if error.reason == "wrong_secret":
            return ("401 Unauthorized — the client secret is wrong (AADSTS7000215).",
                    "Paste the secret's Value, not its Secret ID. If it was lost, create a new secret in "
                    "Entra ID → App registrations → Vectis → Certificates & secrets.")
        if error.reason == "expired_secret":
            return ("401 Unauthorized — the client secret has expired (AADSTS7000222).",
                    "Create a new client secret under Certificates & secrets, paste its Value here and set its expiry date.")
        if error.reason == "unknown_client":
            return ("The App Client ID is not known in this tenant (AADSTS700016).",
                    "Copy the Application (client) ID from the app registration's Overview page, and check the "
                    "app is registered in this tenant.")
        return (f"Sign-in to Entra ID failed: {error}", "Check the tenant ID, client ID and secret.")
    if isinstance(error, errors.TenantNotFoundError):
        return ("404 — the Tenant ID does not resolve to a Microsoft Entra tenant.",
                "Paste the Directory (tenant) ID from the app registration's Overview page, not a subscription or user GUID.")
    if isinstance(error, errors.PermissionDeniedError):
        needed = f" ({error.missing_permission})" if error.missing_permission else ""
        return (f"403 Forbidden — a permission is missing or admin consent was not granted{needed}.", FIX_PERMISSIONS)
    if isinstance(error, errors.NotFoundError) and error.kind == "organization":
        return ("404 on /organization — the Tenant ID doesn't resolve.",
                "Double-check you pasted the Directory (tenant) ID, not a subscription or user GUID.")
    if isinstance(error, errors.NetworkError):
        return ("Could not reach Microsoft: the network failed or timed out.",
                "Check that this server can reach login.microsoftonline.com and graph.microsoft.com over HTTPS "
                "(proxy, firewall, DNS), then test again.")
    if isinstance(error, (errors.ThrottledError, errors.TransientError)):
        return (f"Microsoft Graph is busy or unavailable right now: {error}", "Wait a minute and test again.")
    return (f"Microsoft Graph returned an error: {error}", "Check the values and test again.")
