"""Faults the simulator can inject, switched on and off at runtime.

    sim.faults.set("throttle", every=3, retry_after=2, path="/messages/delta")
    sim.faults.set("wrong_secret")
    sim.faults.clear("throttle")      # or sim.faults.clear() for all

Everything is deterministic (counters, never randomness) so a test can say
exactly which request fails. Request-level faults (throttle, unavailable,
slow, truncated_json, connection_reset) share three optional selectors:

    path=REGEX   only requests whose path matches (re.search)
    count=K      only the next K matching requests, then the fault clears itself
    every=N      only every Nth matching request (the Nth, 2Nth, ...)

With neither count nor every, every matching request is hit.
"""

from __future__ import annotations

import re
import threading
import time

# name -> what it does (also served by GET /_sim/faults).
FAULTS = {
    # Entra (token endpoint / discovery)
    "wrong_secret": "token requests fail: 401 invalid_client AADSTS7000215",
    "expired_secret": "token requests fail: 401 invalid_client AADSTS7000222",
    "unknown_client": "token requests fail: 400 unauthorized_client AADSTS700016",
    "unknown_tenant": "discovery and token requests fail: 400 AADSTS90002",
    "no_admin_consent": "tokens carry no roles claim; every Graph call answers 403",
    "missing_permissions": "params granted=[...] or missing=[...]: roles claim shrinks, endpoints answer 403",
    "token_expired": "param before=<unix time, default now>: tokens issued at or before it answer 401",
    # Graph data-level
    "unlicensed_report": "userRegistrationDetails answers 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant; "
                         "subscribedSkus then show no Entra ID P1 unless param transient=true (a 403 on a P1 tenant)",
    "delta_expired": "delta tokens issued before the fault was set answer 410 syncStateNotFound",
    "mailbox_not_enabled": "param mailboxes=[upn|id]: mailbox endpoints answer 404 MailboxNotEnabledForRESTAPI",
    "access_policy_block": "param mailboxes=[upn|id]: mailbox endpoints answer 403 ErrorAccessDenied (OData disabled)",
    "beta_unavailable": "every /beta request answers 404 (the beta per-user MFA API withdrawn or not reachable)",
    "empty_pages": "every delta page with items is preceded by an empty page carrying a nextLink",
    # Request-level (path/count/every selectors)
    "throttle": "429 TooManyRequests with Retry-After (param retry_after, default 1); also inside $batch",
    "unavailable": "503 ServiceUnavailable with Retry-After (param retry_after, default 1); also inside $batch",
    "slow": "sleep param delay seconds (default 1) before answering",
    "truncated_json": "the JSON body is cut in half (Content-Length matches the cut body)",
    "connection_reset": "the socket is closed (RST) without any response",
}
REQUEST_LEVEL = {"throttle", "unavailable", "slow", "truncated_json", "connection_reset"}


class Faults:
    def __init__(self, clock=time.time) -> None:
        self._lock = threading.Lock()
        self._active: dict[str, dict] = {}
        self._seen: dict[str, int] = {}  # matching requests counted per fault (for every=N)
        self._clock = clock
        # A counter bumped each time a delta token is minted; "delta_expired"
        # remembers its value so only tokens minted before it are stale.
        self.delta_serial = 0

    def set(self, name: str, **params) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        with self._lock:
            if name == "token_expired":
                params.setdefault("before", self._clock())
            if name == "delta_expired":
                params["before_serial"] = self.delta_serial + 1
            if name in ("mailbox_not_enabled", "access_policy_block"):
                params["mailboxes"] = [m.lower() for m in params.get("mailboxes", [])]
            if "path" in params and params["path"]:
                re.compile(params["path"])  # fail now, not on the next request
            self._active[name] = params
            self._seen[name] = 0

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._active.clear()
                self._seen.clear()
            else:
                self._active.pop(name, None)
                self._seen.pop(name, None)

    def active(self) -> dict[str, dict]:
        with self._lock:
            return {k: dict(v) for k, v in self._active.items()}

    def get(self, name: str) -> dict | None:
        """The fault's params if it is set (no counting), else None."""
        with self._lock:
            params = self._active.get(name)
            return dict(params) if params is not None else None

    def take(self, name: str, path: str) -> dict | None:
        """For request-level faults: does this request get hit? Counts it."""
        with self._lock:
            params = self._active.get(name)
            if params is None:
                return None
            if params.get("path") and not re.search(params["path"], path):
                return None
            self._seen[name] += 1
            every = params.get("every")
            if every and self._seen[name] % int(every) != 0:
                return None
            count = params.get("count")
            if count is not None:
                if count <= 1:
                    self._active.pop(name, None)
                else:
                    params["count"] = count - 1
            return dict(params)

    def next_delta_serial(self) -> int:
        with self._lock:
            self.delta_serial += 1
            return self.delta_serial
