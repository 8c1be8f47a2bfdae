"""The Entra side: tenant discovery, the client-credentials token endpoint and
the bearer tokens the Graph side accepts.

Error bodies follow what Entra sends (error, error_description with the
AADSTS code and trace/correlation ids, error_codes, timestamp, trace_id,
correlation_id, error_uri), because MSAL hands them to the caller as is.

Tokens are well-formed JWTs (header.payload.signature, base64url) with the
claims Graph app-only tokens carry. They are not signed with a real key: the
simulator accepts exactly the tokens it minted (it keeps them), so a token
edited by hand to add roles is refused.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from .wire import GraphError, SimRequest, SimResponse, b64url_json, now_utc

if TYPE_CHECKING:
    from .server import GraphSimulator

GRAPH_AUDIENCE = "https://graph.microsoft.com"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z0-9-]{2,63}$")
_DISCOVERY = re.compile(r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$")
_TOKEN = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")


class EntraError(Exception):
    def __init__(self, status: int, error: str, code: int, description: str):
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description


class Entra:
    def __init__(self, sim: "GraphSimulator") -> None:
        self.sim = sim
        self._issued: dict[str, tuple[dict, float]] = {}  # token -> (claims, exact issue time)

    # ------------------------------------------------------------------ routing

    def handles(self, path: str) -> bool:
        return bool(_DISCOVERY.match(path) or _TOKEN.match(path))

    def handle(self, req: SimRequest) -> SimResponse:
        try:
            m = _DISCOVERY.match(req.path)
            if m:
                if req.method != "GET":
                    raise EntraError(405, "invalid_request", 900561, "The endpoint only accepts GET requests.")
                return self._discovery(req, m["tenant"])
            m = _TOKEN.match(req.path)
            if req.method != "POST":
                raise EntraError(405, "invalid_request", 900561, "The endpoint only accepts POST requests.")
            return self._token(req, m["tenant"])
        except EntraError as e:
            return self._error(req, e)

    # ------------------------------------------------------------------ tenant

    def resolve_tenant(self, segment: str) -> str:
        """The canonical tenant id for a GUID or verified domain, else EntraError."""
        tenant = self.sim.tenant
        if self.sim.faults.get("unknown_tenant") is None:
            if segment.lower() == tenant.spec.tenant_id.lower():
                return tenant.spec.tenant_id
            names = {d["name"].lower() for d in tenant.organization["verifiedDomains"]}
            if segment.lower() in names:
                return tenant.spec.tenant_id
            customer = self.sim.customers.find(segment)
            if customer is not None:
                return customer.tenant_id
        if not (_GUID.match(segment) or _DOMAIN.match(segment)):
            raise EntraError(
                400, "invalid_request", 900023,
                f"AADSTS900023: Specified tenant identifier '{segment}' is neither a valid DNS name, nor a valid external domain.",
            )
        raise EntraError(
            400, "invalid_tenant", 90002,
            f"AADSTS90002: Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are "
            "signing into the correct cloud. Check with your subscription administrator, this may happen if there "
            "are no active subscriptions for the tenant.",
        )

    def _discovery(self, req: SimRequest, segment: str) -> SimResponse:
        tid = self.resolve_tenant(segment)
        base = f"{req.base_url}/{tid}"
        return SimResponse(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "jwks_uri": f"{req.base_url}/{tid}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{req.base_url}/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "tid", "ver", "roles"],
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "microsoftonline.com",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            },
            self._headers(req),
        )

    # ------------------------------------------------------------------ token

    def _token(self, req: SimRequest, segment: str) -> SimResponse:
        sim, faults = self.sim, self.sim.faults
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = req.header("authorization", "")
        if basic.lower().startswith("basic "):  # client_secret_basic
            try:
                user, _, pw = base64.b64decode(basic[6:]).decode().partition(":")
                client_id, secret = client_id or unquote(user.replace("+", " ")), unquote(pw.replace("+", " "))
            except ValueError:
                pass
        tid = self.resolve_tenant(segment)
        if form.get("grant_type") != "client_credentials":
            raise EntraError(
                400, "unsupported_grant_type", 70003,
                f"AADSTS70003: The app requested an unsupported grant type '{form.get('grant_type')}'.",
            )
        customer = sim.customers.get(tid)
        unconsented = customer is not None and customer.granted is None  # no service principal there
        if faults.get("unknown_client") is not None or unconsented or (client_id or "").lower() != sim.client_id.lower():
            raise EntraError(
                400, "unauthorized_client", 700016,
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory "
                f"'{sim.tenant_of(tid).spec.tenant_name}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You may have sent your "
                "authentication request to the wrong tenant.",
            )
        if not secret:
            raise EntraError(
                401, "invalid_client", 7000218,
                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
        if faults.get("expired_secret") is not None:
            raise EntraError(
                401, "invalid_client", 7000222,
                f"AADSTS7000222: The provided client secret keys for app '{sim.client_id}' are expired. Visit the "
                "Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using "
                "certificate credentials for added security: https://aka.ms/certCreds.",
            )
        if faults.get("wrong_secret") is not None or secret != sim.client_secret:
            raise EntraError(
                401, "invalid_client", 7000215,
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
                f"client secret value, not the client secret ID, for a secret added to app '{sim.client_id}'.",
            )
        scopes = (form.get("scope") or "").split()
        if not any(s.rstrip("/").lower() in (f"{GRAPH_AUDIENCE}/.default", "00000003-0000-0000-c000-000000000000/.default") for s in scopes):
            raise EntraError(
                400, "invalid_scope", 1002012,
                f"AADSTS1002012: The provided value for scope {form.get('scope') or ''} is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        token, claims = self.mint(tid)
        lifetime = claims["exp"] - claims["iat"]
        return SimResponse(
            200,
            {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token},
            self._headers(req),
        )

    def mint(self, tid: str | None = None) -> tuple[str, dict]:
        """A new access token for the current grant (roles claim omitted when no consent)."""
        sim = self.sim
        tid = tid or sim.tenant.spec.tenant_id
        issued_at = sim.clock()
        iat = int(issued_at)
        jti = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        claims = {
            "aud": GRAPH_AUDIENCE,
            "iss": f"https://sts.windows.net/{tid}/",
            "iat": iat,
            "nbf": iat,
            "exp": iat + sim.token_lifetime,
            "aio": "E2NgYLhsimulatedAA==",
            "app_displayname": "Vectis",
            "appid": sim.client_id,
            "appidacr": "1",
            "idp": f"https://sts.windows.net/{tid}/",
            "idtyp": "app",
            "oid": sim.service_principal_id,
            "rh": "0.AAAA-simulated.",
            "sub": sim.service_principal_id,
            "tenant_region_scope": "EU",
            "tid": tid,
            "uti": jti,
            "ver": "1.0",
            "wids": ["0997a1d0-0d1d-4acb-b408-d5ca73121e90"],
            "xms_tcdt": 1627900206,
        }
        roles = sim.granted_now(tid)
        if roles is not None:  # Entra leaves the claim out entirely without consent
            claims["roles"] = sorted(roles)
        header = {"typ": "JWT", "alg": "RS256", "x5t": "simulated-key", "kid": "simulated-key"}
        signature = base64.urlsafe_b64encode(uuid.uuid5(uuid.NAMESPACE_URL, jti).bytes * 8).decode().rstrip("=")
        token = f"{b64url_json(header)}.{b64url_json(claims)}.{signature}"
        with sim.lock:
            self._issued[token] = (claims, issued_at)
        return token, claims

    def validate(self, req: SimRequest) -> dict:
        """Claims of the request's bearer token, or GraphError 401."""
        auth = req.header("authorization", "")
        headers = {
            "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
            'client_id="00000003-0000-0000-c000-000000000000"'
        }
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", headers)
        token = auth[7:].strip()
        if token.count(".") != 2:
            raise GraphError(401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed, there are no dots (.).", headers)
        with self.sim.lock:
            claims, issued_at = self._issued.get(token, (None, 0.0))
        if claims is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.", headers)
        now = self.sim.clock()
        # token_expired compares the exact issue time, so a token fetched right
        # after the fault works even within the same second.
        expired = self.sim.faults.get("token_expired")
        if claims["exp"] <= now or (expired is not None and issued_at <= expired["before"]):
            raise GraphError(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.", headers)
        if claims["tid"] != self.sim.tenant.spec.tenant_id and self.sim.customers.get(claims["tid"]) is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid tenant.", headers)
        return claims

    def claims_of(self, req: SimRequest) -> dict | None:
        """The claims of the token this request carries, if the simulator minted it."""
        auth = req.header("authorization", "")
        with self.sim.lock:
            found = self._issued.get(auth[7:].strip()) if auth.lower().startswith("bearer ") else None
        return found[0] if found else None

    def forget_tokens(self) -> None:
        with self.sim.lock:
            self._issued.clear()

    # ------------------------------------------------------------------ bodies

    def _headers(self, req: SimRequest) -> dict:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Cache-Control": "no-store, no-cache",
            "Pragma": "no-cache",
            "x-ms-request-id": req.request_id,
        }
        if req.client_request_id:
            headers["client-request-id"] = req.client_request_id
        return headers

    def _error(self, req: SimRequest, e: EntraError) -> SimResponse:
        stamp = now_utc()
        ts = stamp.strftime("%Y-%m-%d %H:%M:%SZ")
        correlation = req.client_request_id or str(uuid.uuid4())
        description = f"{e.description} Trace ID: {req.request_id} Correlation ID: {correlation} Timestamp: {ts}"
        return SimResponse(
            e.status,
            {
                "error": e.error,
                "error_description": description,
                "error_codes": [e.code],
                "timestamp": ts,
                "trace_id": req.request_id,
                "correlation_id": correlation,
                "error_uri": f"{req.base_url}/error?code={e.code}",
            },
            self._headers(req),
        )


def decode_claims(token: str) -> dict:
    """Payload of a JWT without checking the signature (helper for tests)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
