"""Request/response values and error bodies shared by the Entra and Graph handlers.

Handlers work on `SimRequest` / `SimResponse` instead of raw WSGI so the same
code serves an HTTP request and an inner request of a `$batch`.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

GRAPH_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"


@dataclass
class SimRequest:
    method: str
    path: str  # URL-decoded, without the query string
    query: dict[str, str]  # as sent; look up with q() to ignore case
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    base_url: str = "https://127.0.0.1"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    via_batch: bool = False

    @classmethod
    def build(cls, method, path, query_string="", headers=None, body=b"", base_url="https://127.0.0.1", via_batch=False):
        query: dict[str, str] = {}
        for key, value in parse_qsl(query_string or "", keep_blank_values=True):
            query.setdefault(key, value)
        return cls(
            method=method.upper(), path=path, query=query,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body, base_url=base_url, via_batch=via_batch,
        )

    def q(self, name: str, default=None):
        """Query parameter, case-insensitive, "$" optional ($select == select)."""
        wanted = name.lower().lstrip("$")
        for key, value in self.query.items():
            if key.lower().lstrip("$") == wanted:
                return value
        return default

    def header(self, name: str, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def client_request_id(self) -> str | None:
        return self.headers.get("client-request-id")

    def prefer(self) -> dict[str, str]:
        """Prefer header(s) as {lower-cased name: unquoted value}."""
        raw = self.headers.get("prefer", "")
        out = {}
        for name, value in re.findall(r'([A-Za-z][\w.\-]*)\s*=\s*("[^"]*"|[^,;\s]+)', raw):
            out[name.lower()] = value.strip('"')
        return out

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


@dataclass
class SimResponse:
    status: int
    body: object = None  # JSON-able value, or bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)


class GraphError(Exception):
    """Raised by Graph handlers; becomes Graph's JSON error body."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, inner: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.inner = inner or {}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def graph_error_body(req: SimRequest, code: str, message: str, inner: dict | None = None) -> dict:
    inner_error = {
        "date": now_utc().strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": req.request_id,
        "client-request-id": req.client_request_id or req.request_id,
    }
    inner_error.update(inner or {})
    return {"error": {"code": code, "message": message, "innerError": inner_error}}


def b64url_json(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def from_b64url_json(text: str):
    padded = text + "=" * (-len(text) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()))
