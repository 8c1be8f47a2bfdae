"""GraphClient against HTTP-level mocks (responses): the shared helpers.
No database, no real network."""

import base64
import json

from integrations.graph.client import GraphClient
from integrations.graph.transport import RetryPolicy

LOGIN = "https://login.vectis.test"


GRAPH = "https://graph.vectis.test/v1.0"


SECRET = "Zq8~s3cr3t-VALUE-never-shown_0123456789"


ALL_ROLES = [
    "Mail.Read",
    "Calendars.Read",
    "User.Read.All",
    "Reports.Read.All",
    "AuditLog.Read.All",
    "UserAuthenticationMethod.Read.All",
    "Directory.Read.All",
]


ALLOWED = ["jane@msp.example", "Jack@MSP.example"]


JANE_ID = "11111111-2222-3333-4444-555555555555"


def make_jwt(claims):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def add_discovery(rsps, tenant):
    rsps.get(
        f"{LOGIN}/{tenant}/v2.0/.well-known/openid-configuration",
        json={
            "authorization_endpoint": f"{LOGIN}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{LOGIN}/{tenant}/oauth2/v2.0/token",
            "issuer": f"{LOGIN}/{tenant}/v2.0",
        },
    )


def add_token(rsps, tenant, roles=ALL_ROLES, **kwargs):
    body = kwargs.pop("json", None) or {
        "access_token": make_jwt({"roles": list(roles), "tid": tenant}),
        "token_type": "Bearer",
        "expires_in": 3599,
    }
    return rsps.post(f"{LOGIN}/{tenant}/oauth2/v2.0/token", json=body, **kwargs)


def add_login(rsps, tenant, roles=ALL_ROLES):
    add_discovery(rsps, tenant)
    add_token(rsps, tenant, roles)


class Sleeps(list):
    """Injected sleep: records waits instead of sleeping."""

    def __call__(self, seconds):
        self.append(seconds)


class Provider:
    """secret_provider that counts how often the secret was needed."""

    def __init__(self, secret=SECRET):
        self.secret, self.calls = secret, 0

    def __call__(self):
        self.calls += 1
        return self.secret


def make_client(tenant, *, allowed=ALLOWED, sleeps=None, provider=None, fingerprint="fp-1", **kwargs):
    kwargs.setdefault("retry", RetryPolicy(max_retries=3, max_network_retries=2, backoff_base=1.0, max_wait=30, max_total_wait=100))
    kwargs.setdefault("graph_base_url", GRAPH)
    kwargs.setdefault("login_base_url", LOGIN)
    kwargs.setdefault("jitter", lambda: 0.5)
    return GraphClient(
        tenant_id=tenant,
        client_id="00000000-aaaa-bbbb-cccc-000000000001",
        secret_provider=provider or Provider(),
        secret_fingerprint=fingerprint,
        allowed_mailboxes=allowed,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,
    )


def graph_error(code, message="boom", request_id="req-123"):
    inner = {"date": "2025-05-01T10:00:00", "request-id": request_id, "client-request-id": "cli-456"}
    return {"error": {"code": code, "message": message, "innerError": inner}}


def assert_secret_absent(*texts):
    for text in texts:
        assert SECRET not in text
