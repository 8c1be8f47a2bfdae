"""Entra app-only tokens through MSAL.

One MSAL application object per (login base, tenant, client id, secret
fingerprint) lives in a module-level registry for the life of the process, so
MSAL's in-memory token cache serves every GraphClient built for that tenant.
Each token call points the shared application at the calling client's session
(under the entry's lock), so timeouts, the CA bundle and the request counters
are that client's. The secret provider is called only when an application
must be built, and no error, repr or log record carries the secret.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import msal
import requests
from msal.exceptions import MsalServiceError

from . import errors
from .parse import parse_retry_after

logger = logging.getLogger(__name__)

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]

# Hosts MSAL knows; for any other host (the simulator) instance discovery
# against login.microsoftonline.com must be switched off.
MICROSOFT_LOGIN_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
    }
)

# A GUID or a domain name: anything else would change the authority path.
_TENANT_SHAPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")


class _SessionProxy:
    """The http_client MSAL holds. It forwards to whichever client is asking
    for a token right now (set under the entry lock) and remembers the last
    response, whose JSON explains a tenant discovery failure MSAL only reports
    as a bare ValueError."""

    def __init__(self):
        self.session = None  # a transport.GraphSession
        self.counters = None  # a transport.GraphCounters
        self.last_response: requests.Response | None = None

    def _send(self, method, url, **kwargs):
        self.counters.requests["token"] += 1
        self.last_response = None
        response = self.session.request(method, url, **kwargs)
        self.last_response = response
        return response

    def get(self, url, **kwargs):
        return self._send("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self._send("POST", url, **kwargs)

    def close(self):  # the session belongs to the client, not to MSAL
        pass


class _AppEntry:
    def __init__(self):
        self.lock = threading.Lock()
        self.proxy = _SessionProxy()
        self.app: msal.ConfidentialClientApplication | None = None


_apps: dict[tuple, _AppEntry] = {}
_apps_lock = threading.Lock()


def forget_token_apps() -> None:
    """Drop every cached MSAL application (and so every cached token)."""
    with _apps_lock:
        _apps.clear()


def forget_token_app(settings: "TokenSettings") -> None:
    """Drop one cached MSAL application (used after a one-off connection test)."""
    with _apps_lock:
        _apps.pop(settings.key, None)


def _redact_known_secrets(text: str) -> str:
    for entry in list(_apps.values()):
        secret = getattr(entry.app, "client_credential", None)
        if isinstance(secret, str) and len(secret) >= 8 and secret in text:
            text = text.replace(secret, "[redacted]")
    return text


class _RedactSecrets(logging.Filter):
    """MSAL logs raw token-endpoint text when it is not JSON; an endpoint that
    echoed the request would put the secret in a log record. Scrub it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _redact_known_secrets(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


for _name in ("msal.application", "msal.oauth2cli.oauth2", "msal.oauth2cli.oidc", "msal.token_cache", "msal.authority"):
    logging.getLogger(_name).addFilter(_RedactSecrets())


@dataclass(frozen=True)
class TokenSettings:
    login_base_url: str
    tenant_id: str
    client_id: str
    secret_fingerprint: str

    @property
    def key(self) -> tuple:
        return (self.login_base_url, self.tenant_id.lower(), self.client_id, self.secret_fingerprint)


def acquire_token(settings: TokenSettings, secret_provider, session, counters) -> str:
    """An app-only Graph token, from MSAL's cache when it holds a fresh one."""
    if not _TENANT_SHAPE.match(settings.tenant_id or ""):
        raise errors.TenantNotFoundError(reason="malformed", kind="token")
    with _apps_lock:
        entry = _apps.setdefault(settings.key, _AppEntry())
    with entry.lock:
        entry.proxy.session, entry.proxy.counters = session, counters
        entry.proxy.last_response = None
        try:
            if entry.app is None:
                entry.app = _build_app(settings, secret_provider, entry.proxy)
            return _token_from(_acquire(entry), entry)
        except Exception:
            # A failed application is not kept: the next attempt (say, after
            # the admin fixes the secret) builds afresh instead of meeting
            # MSAL's in-memory replay of the failed POST.
            with _apps_lock:
                if _apps.get(settings.key) is entry:
                    del _apps[settings.key]
            raise
        finally:
            entry.proxy.session = entry.proxy.counters = None


def _acquire(entry: _AppEntry) -> dict:
    try:
        return entry.app.acquire_token_for_client(GRAPH_SCOPES)
    except (requests.ConnectionError, requests.Timeout):
        # from None here and below: a chained requests exception keeps the
        # prepared request, whose body holds the secret.
        raise errors.NetworkError(kind="token", message="the token endpoint did not answer") from None
    except (requests.HTTPError, MsalServiceError):  # MSAL raises these for a 5xx
        status = getattr(entry.proxy.last_response, "status_code", None)
        raise errors.TransientError(status=status, kind="token") from None
    except ValueError:  # MSAL's json.loads of a non-JSON answer
        raise errors.MalformedResponseError(kind="token", message="the token endpoint answered non-JSON") from None


def _token_from(result, entry: _AppEntry) -> str:
    if isinstance(result, dict) and isinstance(result.get("access_token"), str):
        return result["access_token"]
    last = entry.proxy.last_response
    if last is not None and last.status_code == 429:
        error = errors.ThrottledError(status=429, kind="token", retry_after=parse_retry_after(last.headers.get("Retry-After")))
    else:
        error = token_error(result, entry.app.client_credential)
    logger.warning("Entra token request failed: %s", error)
    raise error


def invalidate_token(settings: TokenSettings) -> None:
    """Forget the cached access token (Graph said it is no longer valid)."""
    with _apps_lock:
        entry = _apps.get(settings.key)
    if entry is None:
        return
    with entry.lock:
        if entry.app is not None:
            cache = entry.app.token_cache
            for token in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(token)


def _build_app(settings: TokenSettings, secret_provider, proxy: _SessionProxy):
    host = (urlsplit(settings.login_base_url).hostname or "").lower()
    options = {} if host in MICROSOFT_LOGIN_HOSTS else {"instance_discovery": False}
    secret = secret_provider()
    if not isinstance(secret, str) or not secret.strip():
        raise errors.AuthenticationError(reason="wrong_secret", kind="token", message="no client secret is stored")
    try:
        return msal.ConfidentialClientApplication(
            settings.client_id,
            client_credential=secret,
            authority=f"{settings.login_base_url}/{settings.tenant_id}",
            http_client=proxy,
            **options,
        )
    except (requests.ConnectionError, requests.Timeout):
        # from None: a chained requests exception would keep the request.
        raise errors.NetworkError(kind="token", message="the login endpoint did not answer") from None
    except (ValueError, KeyError):
        raise _discovery_error(proxy.last_response) from None
    except MsalServiceError:  # tenant discovery answered 5xx
        raise errors.TransientError(status=getattr(proxy.last_response, "status_code", None), kind="token") from None


def _discovery_error(response: requests.Response | None) -> errors.GraphError:
    """MSAL raises ValueError when tenant discovery fails; the response says why."""
    if response is None or response.status_code == 200:
        return errors.MalformedResponseError(kind="token", message="the tenant's OpenID configuration is unreadable")
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if response.status_code >= 500:
        return errors.TransientError(status=response.status_code, kind="token")
    codes = body.get("error_codes") if isinstance(body.get("error_codes"), list) else []
    return errors.TenantNotFoundError(
        status=response.status_code,
        code=f"AADSTS{codes[0]}" if codes else _text(body.get("error")),
        message=_text(body.get("error_description")),
        reason="malformed" if 900023 in codes else "not_found",
        kind="token",
        correlation_id=_text(body.get("correlation_id")),
        trace_id=_text(body.get("trace_id")),
    )


_TOKEN_REASONS = {7000215: "wrong_secret", 7000222: "expired_secret", 700016: "unknown_client"}


def token_error(result, secret) -> errors.GraphError:
    """acquire_token_for_client's error dict -> a typed error."""
    result = result if isinstance(result, dict) else {}
    codes = [c for c in result.get("error_codes") or [] if isinstance(c, int)]
    description = _text(result.get("error_description"))
    if description and isinstance(secret, str) and secret:
        description = description.replace(secret, "[redacted]")
    common = {
        "code": f"AADSTS{codes[0]}" if codes else _text(result.get("error")),
        "message": description,
        "kind": "token",
        "correlation_id": _text(result.get("correlation_id")),
        "trace_id": _text(result.get("trace_id")),
    }
    if 90002 in codes or 900023 in codes:
        return errors.TenantNotFoundError(reason="malformed" if 900023 in codes else "not_found", **common)
    for code in codes:
        if code in _TOKEN_REASONS:
            return errors.AuthenticationError(reason=_TOKEN_REASONS[code], **common)
    return errors.AuthenticationError(reason="other", **common)


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None
