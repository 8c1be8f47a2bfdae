"""The simulator's HTTP surface: one WSGI app for Entra + Graph + test controls,
and `serve()` to run it over HTTPS on a local port in a background thread.

    tenant = build_tenant(TenantSpec(seed=7))
    sim = GraphSimulator(tenant, client_id=..., client_secret=...)
    running = serve(sim)                  # https://127.0.0.1:<port>
    running.login_base_url, running.graph_base_url, running.ca_path
    sim.faults.set("throttle", count=2)   # see faults.py
    sim.requests                          # what the client asked for
    running.stop()

HTTPS because MSAL only accepts https authorities; the certificate is made
on the fly by a throwaway CA (trustme) whose PEM is `ca_path`.

Control endpoints (not Graph; never logged in `requests`):
    GET  /_sim/info                 tenant id, client id, technicians, domains
    GET  /_sim/faults               active faults and the list of known ones
    POST /_sim/faults               {"name": "throttle", "params": {...}} | {"clear": "throttle"|"all"}
    GET  /_sim/requests[?since=N]   the request log (records with seq > N)
    DELETE /_sim/requests           clear the log
    POST /_sim/reset                clear faults and log; {"tenant": true} also rebuilds the tenant
    POST /_sim/customer-tenants     {"tenant", "action": "revoke"|"limit"|"consent_next", ...} (customer_tenants.py)
    GET  /{tenant|organizations}/adminconsent?client_id&redirect_uri&state   admin consent (redirects back)
    POST /_sim/messages             {"mailbox", "folder", ...fields} -> add a message
    POST /_sim/messages/remove      {"mailbox", "folder", "id"}
    POST /_sim/events               {"mailbox", ...fields} -> add an event
    POST /_sim/events/remove        {"mailbox", "id"}
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import TCPServer, ThreadingMixIn
from urllib.parse import unquote

import trustme

from .customer_tenants import CustomerTenant, CustomerTenants
from .entra import Entra
from .faults import FAULTS, Faults
from .graph import DELTA_FILTER_CAP, GraphApi
from .tenant import Tenant, TenantSpec, build_tenant
from .wire import GRAPH_CONTENT_TYPE, GraphError, SimRequest, SimResponse, graph_error_body, now_utc

ALL_SIX = (
    "Mail.Read",
    "Calendars.Read",
    "User.Read.All",
    "Reports.Read.All",
    "UserAuthenticationMethod.Read.All",
    "Directory.Read.All",
)
# The guide's six plus the optional seventh that unlocks MFA enforcement evidence.
WITH_POLICY_READ = (*ALL_SIX, "Policy.Read.All")
# Fixed demo credentials, printed by the management command so the demo can
# configure itself. They only ever open this simulator.
DEMO_CLIENT_ID = "6a1f4d2e-8b3c-4f5a-9e7d-0c2b1a3f4e5d"
DEMO_CLIENT_SECRET = "demo-secret-value"
MAX_BATCH = 20


class SimulatedConnectionReset(Exception):
    """Raised out of the WSGI app: the HTTPS server closes the socket with a RST."""


class GraphSimulator:
    """Entra + Graph over one WSGI app. Thread-safe; state changes at runtime."""

    def __init__(
        self,
        tenant: Tenant,
        *,
        client_id: str = DEMO_CLIENT_ID,
        client_secret: str = DEMO_CLIENT_SECRET,
        granted_permissions=ALL_SIX,
        # Microsoft's reference names AuditLog.Read.All for the report, the
        # setup guide Reports.Read.All: either is accepted unless narrowed.
        report_permissions=("Reports.Read.All", "AuditLog.Read.All"),
        token_lifetime: int = 3599,
        messages_page_size: int = 10,
        events_page_size: int = 10,
        users_page_size: int = 100,
        report_page_size: int = 50,
        delta_filter_cap: int | None = DELTA_FILTER_CAP,
        ca_page_size: int = 5,
        max_page_size: int = 1000,
        clock=time.time,
    ) -> None:
        self.tenant = tenant
        self.client_id = client_id
        self.client_secret = client_secret
        self.granted_permissions = tuple(granted_permissions)
        self.report_permissions = tuple(report_permissions)
        self.token_lifetime = token_lifetime
        self.messages_page_size = messages_page_size
        self.events_page_size = events_page_size
        self.users_page_size = users_page_size
        self.report_page_size = report_page_size
        # Graph's 5,000-message cap on filtered message delta; None serves
        # every item (an uncapped baseline for the benchmark, not Graph).
        self.delta_filter_cap = delta_filter_cap
        self.ca_page_size = ca_page_size  # small, so the client must follow nextLinks
        # The most items a page holds whatever odata.maxpagesize or $top asks
        # for: Graph caps pages per endpoint and sends the rest by nextLink.
        self.max_page_size = max_page_size
        self.clock = clock
        self.service_principal_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{tenant.spec.tenant_id}:{client_id}"))
        self.lock = threading.RLock()
        self.faults = Faults(clock)
        self.entra = Entra(self)
        self.graph = GraphApi(self)
        self.customers = CustomerTenants(self)
        self._requests: list[dict] = []
        self._request_seq = 0

    # ------------------------------------------------------------------ state

    def granted_now(self, tenant_id: str | None = None) -> list[str] | None:
        """Application permissions with admin consent right now in the MSP's
        tenant, or in customer tenant `tenant_id` (None: no consent)."""
        customer = self.customers.get(tenant_id)
        if customer is not None:
            return None if customer.granted is None else list(customer.granted)
        if self.faults.get("no_admin_consent") is not None:
            return None
        missing = self.faults.get("missing_permissions")
        if missing is None:
            return list(self.granted_permissions)
        if "granted" in missing:
            return list(missing["granted"])
        return [p for p in self.granted_permissions if p not in set(missing.get("missing", ()))]

    @property
    def requests(self) -> list[dict]:
        """A copy of the request log (oldest first)."""
        with self.lock:
            return [dict(r) for r in self._requests]

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()

    def requests_for(self, path_contains: str) -> list[dict]:
        needle = path_contains.lower()
        return [r for r in self.requests if needle in r["path"].lower()]

    def reset(self, *, tenant: bool = False, anchor: datetime | None = None) -> None:
        """Clear faults and the request log; optionally rebuild the tenant from
        its spec (which also drops every customer tenant), "now" for its data
        moved to `anchor` if given (a test's clock)."""
        self.faults.clear()
        self.clear_requests()
        if tenant:
            spec = self.tenant.spec if anchor is None else dataclasses.replace(self.tenant.spec, anchor=anchor)
            self.tenant = build_tenant(spec)
            self.customers = CustomerTenants(self)

    # ------------------------------------------------------------------ customer tenants

    def add_customer_tenant(self, spec: TenantSpec, *, consented: bool = False, withheld=()) -> CustomerTenant:
        """Another tenant the app can be consented in (customer_tenants.customer_tenant_spec)."""
        return self.customers.add(spec, consented=consented, withheld=withheld)

    def consent_next(self, tenant_id: str, *, decline: bool = False) -> None:
        """Who signs in at /organizations/adminconsent next, and whether they decline."""
        self.customers.next_consent = {"tenant": tenant_id, "decline": decline}

    def customer_consent_revoke(self, tenant_id: str) -> None:
        """The customer deleted the app's enterprise application: tokens fail with AADSTS700016."""
        self.customers.revoke(tenant_id)

    def customer_consent_limit(self, tenant_id: str, *, missing) -> None:
        """The customer's consent leaves out `missing`: the token's roles claim lacks them."""
        self.customers.limit(tenant_id, missing=missing)

    def info(self) -> dict:
        spec = self.tenant.spec
        return {
            "tenant_id": spec.tenant_id,
            "tenant_name": spec.tenant_name,
            "client_id": self.client_id,
            "technician_mailboxes": list(self.tenant.technician_upns),
            "customer_domains": list(spec.customer_domains),
            "msp_domain": spec.msp_domain,
            "granted_permissions": self.granted_now(),
            "customer_tenants": self.customer_tenants_info(),
        }

    def customer_tenants_info(self) -> list[dict]:
        return [{"tenant_id": c.tenant_id, "tenant_name": c.tenant.spec.tenant_name, "users": len(c.tenant.users),
                 "domains": [d["name"] for d in c.tenant.organization["verifiedDomains"]],
                 "granted_permissions": None if c.granted is None else list(c.granted)}
                for c in self.customers.by_id.values()]

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        req = request_from_environ(environ)
        resp = self.handle_http(req)
        body = resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body).encode()
        headers = [(k, str(v)) for k, v in resp.headers.items() if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{resp.status} {_reason(resp.status)}", headers)
        return [body]

    def handle_http(self, req: SimRequest) -> SimResponse:
        """One request as received over HTTP: request-level faults, then dispatch."""
        if req.path.startswith("/_sim/"):
            return self._control(req)
        is_graph = req.path.startswith(("/v1.0/", "/beta/"))
        if self._take("connection_reset", req, is_graph):
            self._log(req, None, note="connection_reset")
            raise SimulatedConnectionReset(req.path)
        slow = self._take("slow", req, is_graph)
        if slow:
            time.sleep(float(slow.get("delay", 1.0)))
        resp = self.dispatch(req)
        note = None
        if self._take("truncated_json", req, is_graph):
            raw = json.dumps(resp.body).encode() if not isinstance(resp.body, bytes) else resp.body
            resp = SimResponse(resp.status, raw[: max(1, len(raw) // 2)], resp.headers)
            note = "truncated_json"
        self._log(req, resp.status, note=note)
        return resp

    def dispatch(self, req: SimRequest) -> SimResponse:
        """Route to Entra or Graph; every Graph answer carries Graph's headers."""
        if self.customers.handles(req.path):
            return self.customers.admin_consent(req)
        if self.entra.handles(req.path):
            try:
                self._throttle(req, is_graph=False)
            except GraphError as e:
                return SimResponse(e.status, graph_error_body(req, e.code, e.message, e.inner), {"Content-Type": "application/json", **e.headers})
            return self.entra.handle(req)
        if not (req.path.startswith(("/v1.0/", "/beta/")) or req.path in ("/v1.0", "/beta")):
            return SimResponse(404, {"error": "not_found", "error_description": f"No simulator route for {req.path}"})
        try:
            claims = self.entra.validate(req)
            with self.graph.serving(self.tenant_of(claims["tid"])):
                if normalised_batch(req.path):
                    resp = self._batch(req)
                else:
                    handler, match, perm = self.graph.route(req)
                    self._throttle(req, is_graph=True)
                    self.graph.check_permission(perm, claims)
                    resp = self.graph.call(handler, req, match)
        except GraphError as e:
            resp = SimResponse(e.status, graph_error_body(req, e.code, e.message, e.inner), dict(e.headers))
        headers = {**self._graph_headers(req), **resp.headers}
        if "idtype" in req.prefer():  # ids here never change anyway: just acknowledge it
            applied = [v for v in (headers.get("Preference-Applied"), f'IdType="{req.prefer()["idtype"]}"') if v]
            headers["Preference-Applied"] = ", ".join(applied)
        resp.headers = headers
        return resp

    def tenant_of(self, tenant_id: str) -> Tenant:
        customer = self.customers.get(tenant_id)
        return customer.tenant if customer is not None else self.tenant

    def _throttle(self, req: SimRequest, is_graph: bool) -> None:
        for name, status, code, message in (
            ("throttle", 429, "TooManyRequests", "Please retry again later."),
            ("unavailable", 503, "ServiceUnavailable", "Service unavailable, please retry later."),
        ):
            hit = self._take(name, req, is_graph)
            if hit:
                retry_after = hit.get("retry_after", 1)
                inner = {"code": str(status), "message": "Please retry after", "status": str(status)}
                raise GraphError(status, code, message, {"Retry-After": str(retry_after)}, inner)

    def _take(self, name: str, req: SimRequest, is_graph: bool) -> dict | None:
        # Without a path selector a request-level fault only hits Graph calls;
        # with one it may target Entra too (e.g. path="/oauth2/").
        params = self.faults.get(name)
        if params is None or (not is_graph and not params.get("path")):
            return None
        return self.faults.take(name, req.path)

    def _graph_headers(self, req: SimRequest) -> dict:
        return {
            "Content-Type": GRAPH_CONTENT_TYPE,
            "Cache-Control": "no-cache",
            "OData-Version": "4.0",
            "Strict-Transport-Security": "max-age=31536000",
            "request-id": req.request_id,
            "client-request-id": req.client_request_id or req.request_id,
            "x-ms-ags-diagnostic": json.dumps(
                {"ServerInfo": {"DataCenter": "Simulated", "Slice": "E", "Ring": "1", "ScaleUnit": "000", "RoleInstance": "SIM"}}
            ),
            "x-ms-resource-unit": "1",
            "Date": now_utc().strftime("%a, %d %b %Y %H:%M:%S GMT"),
        }

    # ------------------------------------------------------------------ $batch

    def _batch(self, req: SimRequest) -> SimResponse:
        if req.method != "POST":
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        payload = req.json()
        items = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            raise GraphError(400, "BadRequest", "Invalid batch payload format.")
        if len(items) > MAX_BATCH:
            raise GraphError(400, "BadRequest", f"Number of batch request steps exceeds the maximum of {MAX_BATCH}.")
        ids = [str(i.get("id")) for i in items if isinstance(i, dict)]
        if len(set(ids)) != len(items) or any(i in ("None", "") for i in ids):
            raise GraphError(400, "BadRequest", "Batch requests must have unique, non-empty ids.")
        responses = []
        for item in items:
            url = str(item.get("url", ""))
            path, _, query = url.partition("?")
            path = "/" + req.path.lstrip("/").split("/")[0] + "/" + unquote(path).lstrip("/")
            headers = {"authorization": req.header("authorization", "")}
            if req.client_request_id:
                headers["client-request-id"] = req.client_request_id
            headers.update({k.lower(): str(v) for k, v in (item.get("headers") or {}).items()})
            body = item.get("body")
            inner = SimRequest.build(
                str(item.get("method", "GET")), path, query, headers,
                json.dumps(body).encode() if body is not None else b"", req.base_url, via_batch=True,
            )
            if normalised_batch(inner.path):
                resp = SimResponse(400, graph_error_body(inner, "BadRequest", "Nested batch requests are not supported."))
            else:
                resp = self.dispatch(inner)
            self._log(inner, resp.status)
            inner_headers = {"Cache-Control": "no-cache", "Content-Type": "application/json"}
            if "Retry-After" in resp.headers:
                inner_headers["Retry-After"] = resp.headers["Retry-After"]
            if resp.status == 200:
                inner_headers["OData-Version"] = "4.0"
                inner_headers["Content-Type"] = GRAPH_CONTENT_TYPE
            responses.append({"id": str(item.get("id")), "status": resp.status, "headers": inner_headers, "body": resp.body})
        return SimResponse(200, {"responses": responses})

    # ------------------------------------------------------------------ log

    def _request_tenant(self, req: SimRequest) -> str | None:
        """The tenant a request was served for: the token's tid (Graph) or the path's tenant (Entra)."""
        if req.path.startswith(("/v1.0", "/beta")):
            claims = self.entra.claims_of(req)
            return claims["tid"] if claims else None
        segment = req.path.strip("/").split("/")[0]
        return segment or None

    def _log(self, req: SimRequest, status: int | None, note: str | None = None) -> None:
        parts = req.path.split("/")
        user = parts[3] if len(parts) > 3 and parts[1] == "v1.0" and parts[2].lower() == "users" else None
        with self.lock:
            self._request_seq += 1
            self._requests.append(
                {
                    "seq": self._request_seq,
                    "time": now_utc().isoformat(),
                    "method": req.method,
                    "path": req.path,
                    "query": dict(req.query),
                    "user": user,
                    "prefer": req.header("prefer"),
                    "authorization": bool(req.header("authorization")),
                    "client_request_id": req.client_request_id,
                    "request_id": req.request_id,
                    "status": status,
                    "via_batch": req.via_batch,
                    "note": note,
                    "tenant": self._request_tenant(req),
                }
            )

    # ------------------------------------------------------------------ controls

    def _control(self, req: SimRequest) -> SimResponse:
        route = (req.method, req.path.rstrip("/"))
        data = req.json() if req.body else {}
        data = data if isinstance(data, dict) else {}
        try:
            if route == ("GET", "/_sim/info"):
                return _json(200, self.info())
            if route == ("GET", "/_sim/faults"):
                return _json(200, {"active": self.faults.active(), "known": FAULTS})
            if route == ("POST", "/_sim/faults"):
                if "clear" in data:
                    self.faults.clear(None if data["clear"] in (None, "all") else data["clear"])
                else:
                    self.faults.set(data["name"], **(data.get("params") or {}))
                return _json(200, {"active": self.faults.active()})
            if route == ("GET", "/_sim/requests"):
                since = int(req.q("since") or 0)
                return _json(200, {"requests": [r for r in self.requests if r["seq"] > since]})
            if route == ("DELETE", "/_sim/requests"):
                self.clear_requests()
                return _json(200, {"requests": []})
            if route == ("POST", "/_sim/customer-tenants"):
                # {"tenant": id, "action": "revoke" | "limit" | "consent_next", "missing": [...], "decline": bool}
                action, tid = data["action"], data["tenant"]
                if action == "revoke":
                    self.customer_consent_revoke(tid)
                elif action == "limit":
                    self.customer_consent_limit(tid, missing=data["missing"])
                elif action == "consent_next":
                    self.consent_next(tid, decline=bool(data.get("decline")))
                else:
                    raise ValueError(f"unknown action {action!r}")
                return _json(200, {"customer_tenants": self.customer_tenants_info()})
            if route == ("POST", "/_sim/reset"):
                self.reset(tenant=bool(data.get("tenant")))
                return _json(200, {"active": self.faults.active()})
            if route == ("POST", "/_sim/messages"):
                fields = {k: v for k, v in data.items() if k not in ("mailbox", "folder")}
                rec = self.tenant.add_message(data["mailbox"], data.get("folder", "inbox"), **fields)
                return _json(200, {"id": rec.id, "internetMessageId": rec.graph["internetMessageId"], "sentinel": rec.sentinel})
            if route == ("POST", "/_sim/messages/remove"):
                self.tenant.remove_message(data["mailbox"], data.get("folder", "inbox"), data["id"])
                return _json(200, {"removed": data["id"]})
            if route == ("POST", "/_sim/events"):
                fields = {k: v for k, v in data.items() if k != "mailbox"}
                rec = self.tenant.add_event(data["mailbox"], **fields)
                return _json(200, {"id": rec.id, "iCalUId": rec.graph["iCalUId"], "sentinel": rec.sentinel})
            if route == ("POST", "/_sim/events/remove"):
                self.tenant.remove_event(data["mailbox"], data["id"])
                return _json(200, {"removed": data["id"]})
        except (KeyError, ValueError, TypeError) as e:
            return _json(400, {"error": f"{type(e).__name__}: {e}"})
        return _json(404, {"error": f"no control route {req.method} {req.path}"})


def normalised_batch(path: str) -> bool:
    return path.rstrip("/").lower() in ("/v1.0/$batch", "/beta/$batch")


def _json(status: int, body) -> SimResponse:
    return SimResponse(status, body, {"Content-Type": "application/json"})


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def request_from_environ(environ) -> SimRequest:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '443')}"
    base_url = f"{environ.get('wsgi.url_scheme', 'https')}://{host}"
    path = environ.get("PATH_INFO", "/")
    req = SimRequest.build(environ.get("REQUEST_METHOD", "GET"), path, environ.get("QUERY_STRING", ""), {}, body, base_url)
    req.headers = headers
    return req


# --------------------------------------------------------------------------- HTTPS


def make_certificate(directory: Path, hosts=("127.0.0.1", "localhost")) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for `hosts` signed by it
    (trustme: a real CA + leaf pair, so strict X.509 verification passes).
    Returns (ca_pem, cert_pem, key_pem); clients trust `ca_pem`."""
    ca = trustme.CA(organization_name="Vectis Graph Simulator")
    leaf = ca.issue_cert(*hosts)
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key_path))
    return ca_path, cert_path, key_path


class _Handler(BaseHTTPRequestHandler):
    """A minimal HTTP/1.1 (keep-alive) bridge to the WSGI app. Written out
    rather than wsgiref so a fault can drop the connection without a reply."""

    protocol_version = "HTTP/1.1"
    server_version = "GraphSimulator/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections give their thread back
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def _run(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(length),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "wsgi.url_scheme": "https",
            "wsgi.input": _BytesReader(body),
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]}, {value}" if key in environ else value
        captured = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers

        try:
            chunks = self.server.app(environ, start_response)
        except SimulatedConnectionReset:
            # SO_LINGER 0 turns close() into a TCP RST: no response, no TLS close_notify.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        data = b"".join(chunks)
        code, _, reason = captured["status"].partition(" ")
        self.send_response(int(code), reason)
        for name, value in captured["headers"]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _run

    def log_message(self, format, *args):  # noqa: A002 - quiet: the simulator keeps its own log
        pass


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._pos + size
        chunk, self._pos = self._data[self._pos:end], min(end, len(self._data))
        return chunk


class _HTTPSServer(ThreadingMixIn, TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, app, ssl_context: ssl.SSLContext) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self._connections: set = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's own thread, so one slow
        # client cannot stall the accept loop.
        request.settimeout(30)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._connections_lock:
            self._connections.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            pass
        finally:
            with self._connections_lock:
                self._connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def close_connections(self) -> None:
        """Drop keep-alive connections too, so a stopped simulator stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):  # a client hanging up is not news
        pass


@dataclass
class RunningSimulator:
    simulator: GraphSimulator
    host: str
    port: int
    ca_path: str
    cert_dir: str
    _server: _HTTPSServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _owns_cert_dir: bool = field(default=True, repr=False)

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def login_base_url(self) -> str:
        return self.base_url

    @property
    def graph_base_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def authority(self) -> str:
        return f"{self.login_base_url}/{self.simulator.tenant.spec.tenant_id}"

    def info(self) -> dict:
        return {
            **self.simulator.info(),
            "client_secret": self.simulator.client_secret,
            "graph_base_url": self.graph_base_url,
            "login_base_url": self.login_base_url,
            "authority": self.authority,
            "ca_path": self.ca_path,
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=5)
        if self._owns_cert_dir:
            shutil.rmtree(self.cert_dir, ignore_errors=True)

    def __enter__(self) -> "RunningSimulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(
    simulator: GraphSimulator,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    public_host: str | None = None,
    cert_dir: str | None = None,
) -> RunningSimulator:
    """Serve `simulator` over HTTPS in a daemon thread. port=0 picks a free port.
    `public_host` is the name clients use (defaults to host, or 127.0.0.1 when
    binding all interfaces); the certificate covers it, 127.0.0.1 and localhost."""
    public = public_host or (host if host not in ("", "0.0.0.0", "::") else "127.0.0.1")
    directory = Path(cert_dir) if cert_dir else Path(tempfile.mkdtemp(prefix="vectis-graph-sim-"))
    directory.mkdir(parents=True, exist_ok=True)
    hosts = tuple(dict.fromkeys((public, "127.0.0.1", "localhost")))
    ca_path, cert_path, key_path = make_certificate(directory, hosts)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = _HTTPSServer((host, port), simulator, context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="graph-simulator")
    thread.start()
    return RunningSimulator(
        simulator=simulator, host=public, port=server.server_address[1], ca_path=str(ca_path),
        cert_dir=str(directory), _server=server, _thread=thread, _owns_cert_dir=cert_dir is None,
    )
