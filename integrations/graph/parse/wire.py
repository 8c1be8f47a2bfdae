"""$batch answers, error bodies, Retry-After and the token's roles claim."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from .values import _dict, _list, _str

# ---------------------------------------------------------------- batch and errors


@dataclass(frozen=True)
class BatchItem:
    id: str
    status: int | None
    headers: dict  # header names lowercased
    body: Any


def parse_batch(value: Any) -> dict[str, BatchItem]:
    """POST /$batch answer -> {request id: BatchItem}, in any order Graph sends."""
    items = {}
    for item in _list(_dict(value).get("responses")):
        item = _dict(item)
        item_id = item.get("id")
        if not isinstance(item_id, (str, int)) or isinstance(item_id, bool):
            continue
        status = item.get("status")
        headers = {
            str(k).lower(): v for k, v in _dict(item.get("headers")).items() if isinstance(v, (str, int, float))
        }
        items[str(item_id)] = BatchItem(
            id=str(item_id),
            status=status if isinstance(status, int) and not isinstance(status, bool) else None,
            headers=headers,
            body=item.get("body"),
        )
    return items


@dataclass(frozen=True)
class ErrorBody:
    code: str | None
    message: str | None
    request_id: str | None
    client_request_id: str | None
    date: str | None


def parse_error(value: Any) -> ErrorBody:
    """{"error": {"code", "message", "innerError": {...}}} -> ErrorBody.
    Accepts both "request-id" and the older "requestId" spelling."""
    error = _dict(_dict(value).get("error"))
    inner = _dict(error.get("innerError")) or _dict(error.get("innererror"))
    return ErrorBody(
        code=_str(error.get("code")),
        message=_str(error.get("message")),
        request_id=_str(inner.get("request-id")) or _str(inner.get("requestId")),
        client_request_id=_str(inner.get("client-request-id")) or _str(inner.get("clientRequestId")),
        date=_str(inner.get("date")),
    )


# ---------------------------------------------------------------- headers and tokens


def parse_retry_after(value: Any) -> float | None:
    """Retry-After in seconds: Graph sends fractions ("2.128"); HTTP also
    allows a date. Garbage gives None (the caller then backs off itself)."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, seconds)


def token_roles(access_token: Any) -> frozenset[str] | None:
    """The "roles" claim of an access token (the application permissions
    granted with admin consent). The JWT payload is read without a signature
    check: it only tells which permissions are missing. None when unreadable."""
    try:
        payload = access_token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (AttributeError, IndexError, ValueError, UnicodeError):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    if roles is None and isinstance(claims, dict):
        return frozenset()  # a readable token without roles: nothing granted
    if not isinstance(roles, list):
        return None
    return frozenset(r for r in roles if isinstance(r, str))
