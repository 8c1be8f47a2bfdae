"""Typed errors raised by the Microsoft Graph client.

Every error keeps what Microsoft support asks for (Graph's request id, the
client request id, the date; for Entra token errors the trace and correlation
ids) and renders a sentence an admin can act on. No error ever holds the client
secret: token errors are built from Entra's JSON answer only, and the client
scrubs the secret from that text before it gets here.
"""

from __future__ import annotations


class GraphError(Exception):
    """A Graph or Entra call failed. Subclasses say why."""

    # A short sentence shown before Graph's own message; subclasses override.
    summary = "Microsoft Graph returned an error"
    # What the admin can do about it, shown after the error on the Integrations page.
    advice = "Press Resync on this mailbox; if it fails again, give Microsoft support the request id above."

    def __init__(
        self,
        status: int | None = None,
        code: str | None = None,
        message: str | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
        date: str | None = None,
        *,
        kind: str | None = None,
        correlation_id: str | None = None,
        trace_id: str | None = None,
    ):
        self.status = status
        self.code = code or None
        self.message = message or None
        self.request_id = request_id or trace_id or None
        self.client_request_id = client_request_id or correlation_id or None
        self.date = date or None
        self.kind = kind  # endpoint kind, e.g. "message_delta"
        self.correlation_id = correlation_id or None
        self.trace_id = trace_id or None
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.summary]
        detail = " ".join(p for p in (str(self.status or ""), self.code or "") if p)
        if detail:
            parts.append(f"({detail})")
        text = " ".join(parts)
        if self.message:
            text += f": {self.message}"
        ids = []
        # Entra calls them trace and correlation ids; Graph request ids.
        if self.request_id:
            label = "trace-id" if self.request_id == self.trace_id else "request-id"
            ids.append(f"{label} {self.request_id}")
        if self.client_request_id and self.client_request_id != self.request_id:
            label = "correlation-id" if self.client_request_id == self.correlation_id else "client-request-id"
            ids.append(f"{label} {self.client_request_id}")
        if self.date:
            ids.append(f"date {self.date}")
        if ids:
            text += f" [{', '.join(ids)}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r})"
        )

    def __reduce__(self):
        # Celery and multiprocessing pickle exceptions; the default would call
        # __init__ with the rendered message and lose every attribute.
        return (_rebuild, (type(self), dict(self.__dict__)))


def _rebuild(cls, state):
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class AuthenticationError(GraphError):
    """Entra refused the app, or Graph refused the token.

    reason: "wrong_secret", "expired_secret", "unknown_client",
    "invalid_token" (Graph answered 401 even after one token refresh) or
    "other" (any other token failure; see code and message).
    """

    REASONS = {
        "wrong_secret": "The client secret is wrong (paste the secret Value, not the Secret ID)",
        "expired_secret": "The client secret has expired; create a new one and paste it here",
        "unknown_client": "No app with this client id exists in the tenant",
        "invalid_token": "Microsoft Graph rejected the access token",
        "other": "Entra ID refused to issue a token",
    }
    advice = "Open Configure, paste a new client secret Value (Entra ID → Certificates & secrets), press Test, then Save."

    def __init__(self, *args, reason: str = "other", **kwargs):
        self.reason = reason if reason in self.REASONS else "other"
        super().__init__(*args, **kwargs)

    @property
    def summary(self) -> str:  # type: ignore[override]
        return self.REASONS[self.reason]


class TenantNotFoundError(GraphError):
    """The tenant id does not resolve (AADSTS90002) or is malformed (AADSTS900023).

    reason: "not_found" or "malformed".
    """

    def __init__(self, *args, reason: str = "not_found", **kwargs):
        self.reason = "malformed" if reason == "malformed" else "not_found"
        super().__init__(*args, **kwargs)

    @property
    def summary(self) -> str:  # type: ignore[override]
        if self.reason == "malformed":
            return "The tenant id is not a valid Directory (tenant) ID"
        return "The tenant id does not resolve; paste the Directory (tenant) ID"

    advice = "Open Configure and paste the Directory (tenant) ID from the app registration's Overview page."


class PermissionDeniedError(GraphError):
    """403: the app lacks a permission (missing_permission when known)."""

    advice = ("Grant the permission in Entra ID → App registrations → API permissions, press "
              "\"Grant admin consent\", then Test on Configure.")

    def __init__(self, *args, missing_permission: str | None = None, **kwargs):
        self.missing_permission = missing_permission
        super().__init__(*args, **kwargs)

    @property
    def summary(self) -> str:  # type: ignore[override]
        if self.missing_permission:
            return (
                f"The app lacks the {self.missing_permission} application permission "
                "(or admin consent was not granted)"
            )
        return "Microsoft Graph denied access"


class LicenceRequiredError(PermissionDeniedError):
    """403 Authentication_RequestFromNonPremiumTenantOrB2CTenant: needs Entra ID P1/P2."""

    summary = "This report needs an Entra ID P1 or P2 licence in the tenant"
    advice = "Nothing to do unless you add Entra ID P1/P2: posture falls back to per-user methods."


class NotFoundError(GraphError):
    summary = "Not found in Microsoft Graph"


class MailboxUnavailableError(GraphError):
    """Base for "this one mailbox cannot be read"; a sync skips it and goes on."""


class MailboxNotFoundError(NotFoundError, MailboxUnavailableError):
    """No usable mailbox (MailboxNotEnabledForRESTAPI, ErrorInvalidUser, unknown UPN)."""

    summary = (
        "The mailbox does not exist or is not an Exchange Online mailbox "
        "(unlicensed, guest, soft-deleted or on-premises)"
    )
    advice = ("Check the address on Configure → Technician Mailboxes and that the user has an Exchange Online "
              "licence; remove the mailbox from the list if it is not a technician's.")


class MailboxBlockedError(PermissionDeniedError, MailboxUnavailableError):
    """403 ErrorAccessDenied while Mail.Read/Calendars.Read is granted: an Exchange
    application access policy (RBAC for Applications) excludes this mailbox."""

    summary = "An Exchange application access policy blocks this mailbox"
    advice = ("Add this mailbox to the mail-enabled security group of the Exchange application access policy "
              "(Test-ApplicationAccessPolicy shows it), or remove it from the list.")


class SyncStateExpiredError(GraphError):
    """410, or syncStateNotFound / resyncRequired: restart the folder's delta."""

    summary = "The delta sync state expired; a full resync is needed"
    advice = "Press Resync on this mailbox (the next run also restarts it by itself)."


class ThrottledError(GraphError):
    """Still throttled (429/503/504) after the client's retries; retry_after in seconds."""

    summary = "Microsoft Graph is throttling requests"
    advice = "Nothing to do: the next scheduled run tries again."

    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class TransientError(GraphError):
    summary = "Microsoft Graph had a temporary server error"
    advice = "Nothing to do: the next scheduled run tries again."


class NetworkError(GraphError):
    summary = "Could not reach Microsoft (network error or timeout)"
    advice = "Check that the server reaches login.microsoftonline.com and graph.microsoft.com; the next run tries again."


class MalformedResponseError(GraphError):
    summary = "Microsoft returned a response that could not be read"


class MailboxNotAllowed(GraphError):
    """Refused before any request: the mailbox is not on the Technician Mailboxes list.

    for_mailbox: the allowed mailbox the call was for, when a link Graph gave
    for it names another mailbox (often by a user id the admin cannot place)."""

    advice = "Press Resync on this mailbox: it looks the mailbox up again and starts its folders afresh."

    def __init__(self, mailbox: str, *, for_mailbox: str | None = None):
        self.mailbox = mailbox
        self.for_mailbox = for_mailbox
        super().__init__()

    @property
    def summary(self) -> str:  # type: ignore[override]
        if self.for_mailbox:
            return (f"A link Microsoft Graph returned for {self.for_mailbox} names another mailbox "
                    f"({self.mailbox!r}, not on the Technician Mailboxes list); no request was sent")
        return f"Mailbox {self.mailbox!r} is not on the Technician Mailboxes list; no request was sent"
