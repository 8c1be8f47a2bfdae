"""HTTP transport for Graph: one session, timeouts, retries, typed errors.

Every Graph request goes through Transport.request(): it attaches the token,
counts the request by endpoint kind, retries 429/503/504 (honouring
Retry-After) and network failures within bounds, refreshes the token once
after a 401, and turns anything else into a typed error from errors.py.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

import requests

from . import errors
from .parse import parse_error, parse_retry_after, token_roles
from .tokens import acquire_token, invalidate_token

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (5.0, 60.0)  # (connect, read) seconds


@dataclass
class GraphCounters:
    """What one client did; the sync jobs read it after a run."""

    requests: Counter = field(default_factory=Counter)  # HTTP requests sent, by endpoint kind
    retries: int = 0  # requests repeated (after 429/503/504, a network error or a 401 token refresh)
    throttled: int = 0  # 429/503/504 answers received (incl. per-item 429 in $batch)
    throttled_wait_seconds: float = 0.0  # time slept because of them
    network_errors: int = 0  # connection failures and timeouts
    token_refreshes: int = 0  # tokens dropped after a 401 mid-run
    batch_items: int = 0  # Graph requests sent inside POST /$batch (counted as "batch" above)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict:
        return {
            "requests": dict(self.requests),
            "total_requests": self.total_requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "throttled_wait_seconds": round(self.throttled_wait_seconds, 3),
            "network_errors": self.network_errors,
            "token_refreshes": self.token_refreshes,
            "batch_items": self.batch_items,
        }


class GraphSession(requests.Session):
    """A Session that applies timeouts and TLS verification on every request.

    verify is set per request, not on the Session: with trust_env on, requests
    lets REQUESTS_CA_BUNDLE override Session.verify, which would drop a CA
    bundle given for the simulator's self-signed certificate."""

    def __init__(self, *, timeout=DEFAULT_TIMEOUT, ca_bundle: str | None = None):
        super().__init__()
        self.default_timeout = timeout
        self.default_verify = ca_bundle or True  # never False: TLS verification stays on

    def request(self, method, url, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        kwargs.setdefault("verify", self.default_verify)
        return super().request(method, url, **kwargs)


# Application permissions each endpoint kind needs; any one of the names
# suffices, the first is the one to ask the admin for. The registration
# report is documented with AuditLog.Read.All even though the setup guide asks
# for Reports.Read.All, so a 403 there names AuditLog.Read.All.
PERMISSIONS_BY_KIND = {
    "organization": ("Directory.Read.All", "Organization.Read.All"),
    "user": ("User.Read.All", "Directory.Read.All"),
    "users": ("User.Read.All", "Directory.Read.All"),
    "message_delta": ("Mail.Read",),
    "message_list": ("Mail.Read",),
    "mailbox_probe": ("Mail.Read",),
    "message_body": ("Mail.Read",),
    "calendar": ("Calendars.Read",),
    "event_body": ("Calendars.Read",),
    "registration_report": ("AuditLog.Read.All",),
    "auth_methods": ("UserAuthenticationMethod.Read.All",),
    "directory_roles": ("Directory.Read.All", "RoleManagement.Read.Directory"),
    "role_members": ("Directory.Read.All", "RoleManagement.Read.Directory"),
    # Enforcement evidence (optional seventh permission, Policy.Read.All)
    "ca_policies": ("Policy.Read.All",),
    "auth_strengths": ("Policy.Read.All",),
    "security_defaults": ("Policy.Read.All",),
    "per_user_mfa": ("Policy.Read.All",),
    "group_members": ("GroupMember.Read.All", "Directory.Read.All"),
    "subscribed_skus": ("Organization.Read.All", "Directory.Read.All"),
    "role_eligibility": ("RoleEligibilitySchedule.Read.Directory", "RoleManagement.Read.Directory",
                         "RoleManagement.Read.All"),
}
MAILBOX_KINDS = frozenset({"message_delta", "message_list", "mailbox_probe", "message_body", "calendar", "event_body"})
RETRY_STATUSES = frozenset({429, 503, 504})
_SYNC_STATE_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
_NO_MAILBOX_CODES = frozenset({"mailboxnotenabledforrestapi", "errorinvaliduser", "mailboxnotsupportedforrestapi"})


def missing_permission(kind: str | None, granted: frozenset[str] | None) -> str | None:
    """The permission a 403 on this endpoint kind points to; None when the
    token shows it is granted (the 403 then has another cause)."""
    needed = PERMISSIONS_BY_KIND.get(kind or "")
    if not needed:
        return None
    if granted is not None and any(p in granted for p in needed):
        return None
    return needed[0]


def error_from_response(
    status: int, body, headers, kind: str | None, granted: frozenset[str] | None, sent_request_id: str | None = None
) -> errors.GraphError:
    parsed = parse_error(body)
    common = {
        "status": status,
        "code": parsed.code,
        "message": parsed.message,
        "request_id": parsed.request_id or headers.get("request-id"),
        "client_request_id": parsed.client_request_id or headers.get("client-request-id") or sent_request_id,
        "date": parsed.date or headers.get("Date"),
        "kind": kind,
    }
    code = (parsed.code or "").lower()
    if status == 410 or code in _SYNC_STATE_CODES:
        return errors.SyncStateExpiredError(**common)
    if code in _NO_MAILBOX_CODES or (status == 404 and kind == "user"):
        return errors.MailboxNotFoundError(**common)
    if status == 401:
        return errors.AuthenticationError(reason="invalid_token", **common)
    if status == 403:
        if code == "authentication_requestfromnonpremiumtenantorb2ctenant":
            return errors.LicenceRequiredError(**common)
        missing = missing_permission(kind, granted)
        if code == "erroraccessdenied" and kind in MAILBOX_KINDS and missing is None:
            return errors.MailboxBlockedError(**common)
        return errors.PermissionDeniedError(missing_permission=missing, **common)
    if status == 404:
        return errors.NotFoundError(**common)
    if status == 429:
        return errors.ThrottledError(retry_after=parse_retry_after(headers.get("Retry-After")), **common)
    if status >= 500:
        return errors.TransientError(**common)
    return errors.GraphError(**common)


@dataclass
class RetryPolicy:
    max_retries: int = 4  # repeats after 429/503/504
    max_network_retries: int = 2  # repeats after connection errors and timeouts
    backoff_base: float = 1.0  # seconds; doubled per attempt when no Retry-After
    max_wait: float = 60.0  # one wait never exceeds this (a longer Retry-After gives up)
    max_total_wait: float = 180.0  # per request, like msgraph-sdk's cap


class Transport:
    """Sends one Graph request: token, timeouts, retries, typed errors."""

    def __init__(self, *, token_settings, secret_provider, session, counters, retry, sleep, jitter):
        self.token_settings = token_settings
        self.secret_provider = secret_provider
        self.session = session
        self.counters = counters
        self.retry = retry
        self.sleep = sleep
        self.jitter = jitter  # () -> float in [0, 1)
        self._last_token: str | None = None

    def token(self) -> str:
        failures = 0
        while True:
            try:
                self._last_token = acquire_token(self.token_settings, self.secret_provider, self.session, self.counters)
                return self._last_token
            except errors.NetworkError:
                self.counters.network_errors += 1
                if failures >= self.retry.max_network_retries:
                    raise
                self._wait(self.backoff(failures), throttled=False)
                failures += 1

    def granted_permissions(self) -> frozenset[str]:
        return token_roles(self.token()) or frozenset()

    def _granted_or_none(self) -> frozenset[str] | None:
        # Roles of the token just used; lets a 403 name the missing permission.
        return token_roles(self._last_token) if self._last_token else None

    def backoff(self, attempt: int) -> float:
        # Exponential with "equal jitter": half fixed, half random, so waits
        # grow but concurrent workers do not retry in lockstep.
        ceiling = min(self.retry.max_wait, self.retry.backoff_base * (2**attempt))
        return ceiling / 2 + self.jitter() * ceiling / 2

    def _wait(self, seconds: float, *, throttled: bool) -> None:
        self.counters.retries += 1
        if throttled:
            self.counters.throttled_wait_seconds += seconds
        self.sleep(seconds)

    def request(self, kind: str, method: str, url: str, *, params=None, headers=None, json_body=None) -> dict:
        """Send, retrying 429/503/504 and network errors; return the JSON object."""
        throttle_attempts = network_failures = 0
        waited = 0.0
        refreshed = False
        while True:
            # client-request-id: our own id for this attempt, so even an error
            # without Graph's ids can be matched with Microsoft's logs.
            request_id = str(uuid.uuid4())
            send_headers = {
                "Authorization": f"Bearer {self.token()}",
                "Accept": "application/json",
                "client-request-id": request_id,
                "return-client-request-id": "true",
            }
            send_headers.update(headers or {})
            self.counters.requests[kind] += 1
            try:
                response = self.session.request(method, url, params=params, headers=send_headers, json=json_body)
            except requests.exceptions.SSLError:
                raise errors.NetworkError(kind=kind, message="TLS verification failed (check VECTIS_GRAPH_CA_BUNDLE)") from None
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                self.counters.network_errors += 1
                if network_failures >= self.retry.max_network_retries:
                    cls = errors.MalformedResponseError if isinstance(exc, requests.exceptions.ChunkedEncodingError) else errors.NetworkError
                    raise cls(kind=kind, message=type(exc).__name__) from None
                self._wait(self.backoff(network_failures), throttled=False)
                network_failures += 1
                continue
            status = response.status_code
            logger.debug("graph %s %s -> %s request-id=%s", kind, method, status, response.headers.get("request-id"))
            if 200 <= status < 300:
                return self._json(response, kind)
            if status == 401 and not refreshed:
                # The token expired or was revoked mid-run: drop it and retry once.
                refreshed = True
                self.counters.token_refreshes += 1
                self.counters.retries += 1
                invalidate_token(self.token_settings)
                continue
            body = self._json_or_none(response)
            if status in RETRY_STATUSES:
                self.counters.throttled += 1
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                wait = retry_after if retry_after is not None else self.backoff(throttle_attempts)
                if (
                    throttle_attempts >= self.retry.max_retries
                    or wait > self.retry.max_wait
                    or waited + wait > self.retry.max_total_wait
                ):
                    # 429 -> ThrottledError (with Retry-After), 503/504 -> TransientError
                    raise error_from_response(status, body, response.headers, kind, self._granted_or_none(), request_id)
                throttle_attempts += 1
                waited += wait
                self._wait(wait, throttled=True)
                continue
            raise error_from_response(status, body, response.headers, kind, self._granted_or_none(), request_id)

    @staticmethod
    def _json_or_none(response):
        try:
            return response.json()
        except ValueError:
            return None

    @staticmethod
    def _json(response, kind) -> dict:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise errors.MalformedResponseError(
                status=response.status_code,
                request_id=response.headers.get("request-id"),
                client_request_id=response.headers.get("client-request-id"),
                kind=kind,
                message="the body is not a complete JSON object",
            )
        return data
