"""Simulator: Entra."""

from __future__ import annotations

import msal
import pytest

from graphsim import (
    ALL_SIX,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
)

from .kit import (
    VerifySession,
    assert_entra_error,
    claims_of,
)


def msal_app(live, secret=DEMO_CLIENT_SECRET, client_id=DEMO_CLIENT_ID, tenant=None):
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=secret,
        authority=f"{live.running.login_base_url}/{tenant or live.tenant.spec.tenant_id}",
        instance_discovery=False,
        http_client=VerifySession(live.running.ca_path),
    )


def test_msal_gets_a_token_graph_accepts(live):
    result = msal_app(live).acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer" and result["expires_in"] > 3000
    claims = claims_of(result["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["tid"] == live.tenant.spec.tenant_id and claims["appid"] == DEMO_CLIENT_ID
    assert claims["roles"] == sorted(ALL_SIX) and claims["exp"] > claims["iat"]
    resp = live.get("/organization", token=result["access_token"])
    assert resp.status_code == 200
    assert resp.json()["value"][0]["displayName"] == "Contoso MSP Ltd"


def test_msal_token_errors(live):
    scopes = ["https://graph.microsoft.com/.default"]
    wrong = msal_app(live, secret="not-the-secret").acquire_token_for_client(scopes)
    assert wrong["error"] == "invalid_client" and wrong["error_codes"] == [7000215]
    assert {"error_description", "correlation_id", "trace_id"} <= set(wrong)
    unknown = msal_app(live, client_id="00000000-1111-2222-3333-444444444444").acquire_token_for_client(scopes)
    assert unknown["error"] == "unauthorized_client" and unknown["error_codes"] == [700016]
    live.sim.faults.set("expired_secret")
    expired = msal_app(live).acquire_token_for_client(scopes)
    assert expired["error_codes"] == [7000222]
    with pytest.raises(ValueError):
        msal_app(live, tenant="11111111-2222-3333-4444-555555555555")  # tenant discovery fails on construction


def test_openid_configuration_and_unknown_tenant(live):
    base = live.running.login_base_url
    tid = live.tenant.spec.tenant_id
    conf = live.http.get(f"{base}/{tid}/v2.0/.well-known/openid-configuration").json()
    assert conf["token_endpoint"] == f"{base}/{tid}/oauth2/v2.0/token"
    assert conf["authorization_endpoint"].startswith(base) and conf["issuer"] == f"{base}/{tid}/v2.0"
    by_domain = live.http.get(f"{base}/contoso-msp.example/v2.0/.well-known/openid-configuration").json()
    assert by_domain["token_endpoint"] == conf["token_endpoint"]
    resp = live.http.get(f"{base}/11111111-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration")
    assert_entra_error(resp, 400, "invalid_tenant", 90002)
    resp = live.http.get(f"{base}/not a tenant!/v2.0/.well-known/openid-configuration")
    assert_entra_error(resp, 400, "invalid_request", 900023)
    live.sim.faults.set("unknown_tenant")
    assert_entra_error(live.token_response(), 400, "invalid_tenant", 90002)


def test_token_endpoint_errors_have_entra_bodies(live):
    assert_entra_error(live.token_response(secret="wrong"), 401, "invalid_client", 7000215)
    assert_entra_error(live.token_response(client_id="nope"), 400, "unauthorized_client", 700016)
    for fault, status, error, code in (
        ("wrong_secret", 401, "invalid_client", 7000215),
        ("expired_secret", 401, "invalid_client", 7000222),
        ("unknown_client", 400, "unauthorized_client", 700016),
    ):
        live.sim.faults.set(fault)
        assert_entra_error(live.token_response(), status, error, code)
        live.sim.faults.clear(fault)
    assert live.token_response().status_code == 200
