"""The Graph simulator's test kit: a served simulator and the helpers tests use.

Everything goes through real HTTPS (requests with verify=<simulator CA>) and,
for tokens, through MSAL itself, so what passes here is what the production
client will meet. No database.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

import requests

from graphsim import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    GraphSimulator,
    TenantSpec,
    build_tenant,
    serve,
)

ROOT = Path(__file__).resolve().parents[2]


EXAMPLES = ROOT / "tests" / "fixtures" / "graph"  # our data in the shapes Microsoft documents


ANCHOR = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


SPEC = TenantSpec(anchor=ANCHOR)


JANE = "jane@contoso-msp.example"


GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"


EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"


class VerifySession(requests.Session):
    """Trust the simulator's CA on every request (REQUESTS_CA_BUNDLE would
    otherwise win over Session.verify)."""

    def __init__(self, ca_path: str) -> None:
        super().__init__()
        self.ca_path = ca_path

    def request(self, method, url, **kwargs):
        kwargs.setdefault("verify", self.ca_path)
        kwargs.setdefault("timeout", 10)
        return super().request(method, url, **kwargs)


class Live:
    """A served simulator plus the helpers tests use."""

    def __init__(self, sim: GraphSimulator, running) -> None:
        self.sim, self.running = sim, running
        self.http = VerifySession(running.ca_path)
        self.g = running.graph_base_url
        self._token = None

    @property
    def tenant(self):
        return self.sim.tenant

    def token_response(self, secret=DEMO_CLIENT_SECRET, client_id=DEMO_CLIENT_ID, tenant=None):
        url = f"{self.running.login_base_url}/{tenant or self.tenant.spec.tenant_id}/oauth2/v2.0/token"
        return self.http.post(
            url,
            data={
                "client_id": client_id,
                "client_secret": secret,
                "scope": "https://graph.microsoft.com/.default",
                "grant_type": "client_credentials",
            },
        )

    def new_token(self) -> str:
        resp = self.token_response()
        assert resp.status_code == 200, resp.text
        return resp.json()["access_token"]

    def get(self, path_or_url, token=None, headers=None, **kwargs):
        if self._token is None and token is None:
            self._token = self.new_token()
        url = path_or_url if path_or_url.startswith("https://") else self.g + path_or_url
        hdrs = {"Authorization": f"Bearer {token or self._token}", **(headers or {})}
        return self.http.get(url, headers=hdrs, **kwargs)

    def post(self, path, json_body, token=None):
        if self._token is None and token is None:
            self._token = self.new_token()
        return self.http.post(self.g + path, json=json_body, headers={"Authorization": f"Bearer {token or self._token}"})

    def follow(self, first_url, headers=None):
        """Follow nextLinks to the deltaLink; returns (items, pages, deltaLink)."""
        items, pages, url = [], [], first_url
        while True:
            resp = self.get(url, headers=headers)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            pages.append(body)
            items.extend(body["value"])
            if "@odata.nextLink" in body:
                url = body["@odata.nextLink"]
                continue
            return items, pages, body.get("@odata.deltaLink")


def start(spec=SPEC, **sim_kwargs) -> Live:
    sim = GraphSimulator(build_tenant(spec), **sim_kwargs)
    return Live(sim, serve(sim))


def example(name):
    return json.loads((EXAMPLES / name).read_text())


def claims_of(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def assert_graph_error(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert {"code", "message", "innerError"} <= set(body["error"])
    assert {"date", "request-id", "client-request-id"} <= set(body["error"]["innerError"])
    assert resp.headers["request-id"] == body["error"]["innerError"]["request-id"]
    assert resp.headers["client-request-id"]
    return body["error"]


def assert_entra_error(resp, status, error, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id"} <= set(body)
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}:")
    return body


def delta_url(mailbox=JANE, folder="inbox", query="$select=subject,from,receivedDateTime"):
    return f"/users/{mailbox}/mailFolders/{folder}/messages/delta?{query}"
