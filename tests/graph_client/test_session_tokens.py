"""Graph client: session and tokens."""

import pickle
import uuid

import pytest
import requests

from integrations.graph import errors
from integrations.graph.client import GraphClient

from .kit import GRAPH, LOGIN, SECRET, Provider, Sleeps, add_discovery, add_login, add_token, assert_secret_absent, make_client, make_jwt


def test_one_session_serves_msal_and_graph_with_timeouts_and_ca_bundle(rsps, tenant, tmp_path, monkeypatch):
    bundle = tmp_path / "simulator-ca.pem"
    bundle.write_text("not read: responses never opens a socket")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/some-other-bundle.pem")  # must not win
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", json={"value": [{"id": tenant, "displayName": "Contoso"}]})
    client = make_client(tenant, ca_bundle=str(bundle), timeout=(3.0, 20.0))

    assert client.organization_get()["displayName"] == "Contoso"

    assert [c.request.method for c in rsps.calls] == ["GET", "POST", "GET"]
    for call in rsps.calls:  # discovery, token and Graph all went through the client's session
        assert call.request.req_kwargs["timeout"] == (3.0, 20.0)
        assert call.request.req_kwargs["verify"] == str(bundle)
    graph_call = rsps.calls[2].request
    assert graph_call.headers["Authorization"].startswith("Bearer ")
    assert graph_call.headers["client-request-id"]


def test_tls_verification_is_on_without_a_bundle(rsps, tenant, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", json={"value": [{"id": "o"}]})
    make_client(tenant).organization_get()
    assert all(call.request.req_kwargs["verify"] is True for call in rsps.calls)


def test_one_msal_application_per_tenant_shares_its_token_cache(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", json={"value": [{"id": "o"}]})
    provider = Provider()
    first, second = make_client(tenant, provider=provider), make_client(tenant, provider=provider)

    first.organization_get()
    second.organization_get()
    first.organization_get()

    assert provider.calls == 1  # the secret was needed once, to build the application
    assert first.counters.requests["token"] == 2  # discovery + token POST
    assert second.counters.requests["token"] == 0  # served from MSAL's cache
    assert first.counters.requests["organization"] == 2
    assert second.counters.requests["organization"] == 1


def test_a_new_secret_fingerprint_builds_a_new_application(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", json={"value": [{"id": "o"}]})
    make_client(tenant, fingerprint="old").organization_get()
    rotated = make_client(tenant, fingerprint="new")
    rotated.organization_get()
    assert rotated.counters.requests["token"] == 2


def test_granted_permissions_come_from_the_token_roles_claim(rsps, tenant):
    add_login(rsps, tenant, roles=["Mail.Read", "User.Read.All"])
    assert make_client(tenant).granted_permissions() == {"Mail.Read", "User.Read.All"}


def test_microsoft_login_host_keeps_msal_defaults(rsps, tenant):
    login = "https://login.microsoftonline.com"
    rsps.get(
        f"{login}/{tenant}/v2.0/.well-known/openid-configuration",
        json={"authorization_endpoint": f"{login}/{tenant}/oauth2/v2.0/authorize", "token_endpoint": f"{login}/{tenant}/oauth2/v2.0/token"},
    )
    rsps.post(f"{login}/{tenant}/oauth2/v2.0/token", json={"access_token": make_jwt({"roles": []}), "expires_in": 3599})
    client = GraphClient(
        tenant_id=tenant, client_id="c", secret_provider=Provider(), secret_fingerprint="f", allowed_mailboxes=[]
    )
    assert client.granted_permissions() == frozenset()
    assert len(rsps.calls) == 2  # no instance discovery for a host MSAL knows


def test_constructor_refuses_plain_http_base_urls(tenant):
    with pytest.raises(ValueError):
        GraphClient(tenant_id=tenant, client_id="c", secret_provider=Provider(), secret_fingerprint="f", allowed_mailboxes=[], graph_base_url="http://graph.local/v1.0")


TOKEN_FAILURES = [
    (7000215, 401, "invalid_client", errors.AuthenticationError, "wrong_secret"),
    (7000222, 401, "invalid_client", errors.AuthenticationError, "expired_secret"),
    (700016, 400, "unauthorized_client", errors.AuthenticationError, "unknown_client"),
    (90002, 400, "invalid_request", errors.TenantNotFoundError, "not_found"),
    (900023, 400, "invalid_request", errors.TenantNotFoundError, "malformed"),
    (50034, 400, "invalid_request", errors.AuthenticationError, "other"),
]


@pytest.mark.parametrize("code,status,error,cls,reason", TOKEN_FAILURES)
def test_token_failures_map_to_typed_errors_without_the_secret(rsps, tenant, all_logs, code, status, error, cls, reason):
    add_discovery(rsps, tenant)
    add_token(
        rsps,
        tenant,
        status=status,
        json={
            "error": error,
            # A hostile or buggy endpoint echoing the secret must not leak it either.
            "error_description": f"AADSTS{code}: Something about the app. Secret was {SECRET}. Trace ID: t-1",
            "error_codes": [code],
            "timestamp": "2025-05-01 10:00:00Z",
            "trace_id": "trace-abc",
            "correlation_id": "corr-def",
        },
    )
    client = make_client(tenant)
    with pytest.raises(cls) as caught:
        client.organization_get()

    exc = caught.value
    assert exc.reason == reason
    assert exc.code == f"AADSTS{code}"
    assert (exc.trace_id, exc.correlation_id) == ("trace-abc", "corr-def")
    assert "trace-abc" in str(exc)
    assert_secret_absent(str(exc), repr(exc), repr(exc.args), repr(pickle.loads(pickle.dumps(exc)).__dict__), repr(client))
    assert_secret_absent(all_logs.text)
    assert exc.__cause__ is None  # nothing chained that could carry the request body


def test_a_repeated_failure_reaches_entra_again_instead_of_msals_replay(rsps, tenant):
    # MSAL replays an identical failed 400 token POST from memory for 60 s; the
    # client drops a failed application so the admin's retry is a real one.
    add_discovery(rsps, tenant)
    token = add_token(rsps, tenant, status=400, json={"error": "unauthorized_client", "error_codes": [700016]})
    for _ in range(2):
        with pytest.raises(errors.AuthenticationError):
            make_client(tenant).organization_get()
    assert token.call_count == 2


def test_unknown_tenant_fails_tenant_discovery(rsps, tenant, all_logs):
    rsps.get(
        f"{LOGIN}/{tenant}/v2.0/.well-known/openid-configuration",
        status=400,
        json={
            "error": "invalid_tenant",
            "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
            "error_codes": [90002],
            "trace_id": "trace-90002",
            "correlation_id": "corr-90002",
        },
    )
    provider = Provider()
    with pytest.raises(errors.TenantNotFoundError) as caught:
        make_client(tenant, provider=provider).organization_get()
    assert caught.value.reason == "not_found"
    assert caught.value.trace_id == "trace-90002"
    assert "trace-90002" in str(caught.value)
    assert_secret_absent(str(caught.value), all_logs.text)


def test_malformed_tenant_id_is_refused_without_a_request(rsps):
    provider = Provider()
    with pytest.raises(errors.TenantNotFoundError) as caught:
        make_client("../common/evil", provider=provider).organization_get()
    assert caught.value.reason == "malformed"
    assert len(rsps.calls) == 0 and provider.calls == 0


def test_token_endpoint_unreachable_is_a_network_error_after_bounded_retries(rsps, tenant):
    add_discovery(rsps, tenant)
    rsps.post(f"{LOGIN}/{tenant}/oauth2/v2.0/token", body=requests.ConnectionError("connection refused"))
    sleeps = Sleeps()
    client = make_client(tenant, sleeps=sleeps)
    with pytest.raises(errors.NetworkError):
        client.organization_get()
    assert len(sleeps) == 2  # max_network_retries
    assert client.counters.network_errors == 3


def test_token_endpoint_5xx_and_non_json(rsps, tenant):
    add_discovery(rsps, tenant)
    add_token(rsps, tenant, status=500, json={"error": "server_error"})
    with pytest.raises(errors.TransientError):
        make_client(tenant).organization_get()

    other = str(uuid.uuid4())
    add_discovery(rsps, other)
    rsps.post(f"{LOGIN}/{other}/oauth2/v2.0/token", body=f"<html>echo client_secret={SECRET}</html>", status=200)
    with pytest.raises(errors.MalformedResponseError) as caught:
        make_client(other).organization_get()
    assert_secret_absent(str(caught.value))


def test_secret_is_absent_from_debug_logs_of_a_successful_run(rsps, tenant, all_logs):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", json={"value": [{"id": "o"}]})
    make_client(tenant).organization_get()
    assert any(r.name.startswith("msal") for r in all_logs.records)  # MSAL did log at DEBUG
    assert_secret_absent(all_logs.text)


def test_hostile_token_endpoint_echo_is_redacted_from_msal_logs(rsps, tenant, all_logs):
    add_discovery(rsps, tenant)
    # MSAL logs a non-JSON token answer verbatim; this one echoes the form body.
    rsps.post(f"{LOGIN}/{tenant}/oauth2/v2.0/token", body=f"client_secret={SECRET}&grant_type=client_credentials")
    with pytest.raises(errors.MalformedResponseError):
        make_client(tenant).organization_get()
    assert any("not in json format" in r.getMessage() for r in all_logs.records)
    assert_secret_absent(all_logs.text)
