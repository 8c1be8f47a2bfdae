"""Simulator: tokens and permissions."""

from __future__ import annotations

import base64
import json

from graphsim import ALL_SIX

from .kit import (
    JANE,
    assert_graph_error,
    claims_of,
    delta_url,
    start,
)


def test_graph_requires_a_token_it_issued(live):
    err = assert_graph_error(live.http.get(live.g + "/organization"), 401, "InvalidAuthenticationToken")
    assert err["message"] == "Access token is empty."
    assert_graph_error(live.get("/organization", token="abc"), 401, "InvalidAuthenticationToken")
    token = live.new_token()
    header, payload, sig = token.split(".")
    claims = claims_of(token)
    claims["roles"] = claims["roles"] + ["Mail.ReadWrite"]
    forged = header + "." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + "." + sig
    assert_graph_error(live.get("/organization", token=forged), 401, "InvalidAuthenticationToken")
    resp = live.get("/organization", token=token, headers={"client-request-id": "my-correlation"})
    assert resp.status_code == 200 and resp.headers["client-request-id"] == "my-correlation" and resp.headers["request-id"]


def test_token_lifetime_and_expiry_mid_run():
    now = [1_700_000_000.0]
    live = start(token_lifetime=600, clock=lambda: now[0])
    try:
        token = live.new_token()
        assert claims_of(token)["exp"] == int(now[0]) + 600
        assert live.get("/organization", token=token).status_code == 200
        now[0] += 601
        err = assert_graph_error(live.get("/organization", token=token), 401, "InvalidAuthenticationToken")
        assert "expired" in err["message"]
        fresh_token = live.new_token()
        assert live.get("/organization", token=fresh_token).status_code == 200
        live.sim.faults.set("token_expired")  # every token issued so far dies now
        assert_graph_error(live.get("/organization", token=fresh_token), 401, "InvalidAuthenticationToken")
        now[0] += 0.001  # the same second: a token fetched after the fault still works
        assert live.get("/organization", token=live.new_token()).status_code == 200
    finally:
        live.running.stop()


def test_missing_permissions_shrink_roles_and_403(live):
    live.sim.faults.set("missing_permissions", missing=["Mail.Read", "Directory.Read.All"])
    token = live.new_token()
    assert set(claims_of(token)["roles"]) == set(ALL_SIX) - {"Mail.Read", "Directory.Read.All"}
    err = assert_graph_error(live.get("/organization", token=token), 403, "Authorization_RequestDenied")
    assert err["message"] == "Insufficient privileges to complete the operation."
    assert_graph_error(live.get("/directoryRoles", token=token), 403, "Authorization_RequestDenied")
    # Exchange answers a missing Mail.Read its own way.
    assert_graph_error(live.get(delta_url(), token=token), 403, "ErrorAccessDenied")
    assert live.get(f"/users/{JANE}", token=token).status_code == 200
    assert live.get(f"/users/{JANE}/calendarView?startDateTime=2025-03-01&endDateTime=2025-03-02", token=token).status_code == 200
    # A token minted before the change loses the permission immediately too.
    live.sim.faults.set("missing_permissions", granted=["User.Read.All"])
    assert_graph_error(live.get("/reports/authenticationMethods/userRegistrationDetails", token=token), 403, "Authorization_RequestDenied")


def test_no_admin_consent_means_no_roles_claim(live):
    live.sim.faults.set("no_admin_consent")
    token = live.new_token()
    assert "roles" not in claims_of(token)
    for path in ("/organization", f"/users/{JANE}", "/directoryRoles", "/reports/authenticationMethods/userRegistrationDetails"):
        assert_graph_error(live.get(path, token=token), 403, "Authorization_RequestDenied")


def test_report_permission_is_configurable():
    strict = start(granted_permissions=ALL_SIX, report_permissions=("AuditLog.Read.All",))
    try:
        assert_graph_error(strict.get("/reports/authenticationMethods/userRegistrationDetails"), 403, "Authorization_RequestDenied")
    finally:
        strict.running.stop()
    audit = start(granted_permissions=[p for p in ALL_SIX if p != "Reports.Read.All"] + ["AuditLog.Read.All"])
    try:
        assert audit.get("/reports/authenticationMethods/userRegistrationDetails").status_code == 200
    finally:
        audit.running.stop()
