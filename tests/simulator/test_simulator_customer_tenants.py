"""The simulator serves customer tenants: a token endpoint per tenant with the
same client credentials, per-tenant directories, the admin-consent redirect,
a revoked consent and a consent that lacks a permission. Real HTTPS and MSAL,
no database."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import msal
import pytest
import requests

from graphsim import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    GraphSimulator,
    TenantSpec,
    build_tenant,
    customer_tenant_spec,
    serve,
)
from graphsim.entra import decode_claims

NORTHWIND = "1a1a1a1a-0000-4000-8000-000000000001"
FABRIKAM = "2b2b2b2b-0000-4000-8000-000000000002"
CALLBACK = "https://vectis.example/integrations/customer-tenants/callback/"


@pytest.fixture(scope="module")
def live():
    sim = GraphSimulator(build_tenant(TenantSpec(users_per_customer=2)), client_id=DEMO_CLIENT_ID,
                         client_secret=DEMO_CLIENT_SECRET)
    running = serve(sim)
    yield running
    running.stop()


@pytest.fixture
def sim(live):
    live.simulator.reset(tenant=True)
    live.simulator.add_customer_tenant(
        customer_tenant_spec(tenant_id=NORTHWIND, name="Northwind Traders", domain="northwind.example", users=30))
    live.simulator.add_customer_tenant(
        customer_tenant_spec(tenant_id=FABRIKAM, name="Fabrikam Inc", domain="fabrikam.example", users=7,
                             entra_premium=False, seed=5), consented=True)
    return live.simulator


def _token(live, tenant_id):
    app = msal.ConfidentialClientApplication(
        DEMO_CLIENT_ID, client_credential=DEMO_CLIENT_SECRET, authority=f"{live.login_base_url}/{tenant_id}",
        instance_discovery=False, http_client=_session(live))
    return app.acquire_token_for_client(["https://graph.microsoft.com/.default"])


def _session(live):
    session = requests.Session()
    session.verify = live.ca_path
    session.trust_env = False
    return session


def _get(live, token, path):
    return _session(live).get(f"{live.graph_base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _consent(live, tenant_segment="organizations", state="s-1", redirect_uri=CALLBACK):
    return _session(live).get(
        f"{live.login_base_url}/{tenant_segment}/adminconsent",
        params={"client_id": DEMO_CLIENT_ID, "redirect_uri": redirect_uri, "state": state}, allow_redirects=False,
        timeout=10)


def test_unconsented_tenant_refuses_a_token_as_entra_does(live, sim):
    result = _token(live, NORTHWIND)
    assert "access_token" not in result
    assert result["error"] == "unauthorized_client"
    assert result["error_codes"] == [700016]
    assert "Northwind Traders" in result["error_description"]


def test_admin_consent_redirects_back_with_tenant_and_state_then_tokens_work(live, sim):
    sim.consent_next(NORTHWIND)
    answer = _consent(live, state="opaque-state-123")
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    assert parse_qs(location.query) == {"admin_consent": ["True"], "tenant": [NORTHWIND], "state": ["opaque-state-123"]}
    token = _token(live, NORTHWIND)["access_token"]
    claims = decode_claims(token)
    assert claims["tid"] == NORTHWIND
    assert "Mail.Read" not in claims["roles"] and "Directory.Read.All" in claims["roles"]


def test_declined_consent_redirects_with_the_error(live, sim):
    sim.consent_next(NORTHWIND, decline=True)
    query = parse_qs(urlsplit(_consent(live, state="s-2").headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["s-2"]
    assert query["error_description"][0].startswith("AADSTS65004")
    assert "error" in _token(live, NORTHWIND)  # still no consent


def test_consent_to_a_named_tenant_and_an_unregistered_redirect_uri(live, sim):
    answer = _consent(live, tenant_segment="northwind.example")
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["tenant"] == [NORTHWIND]
    sim.customers.redirect_uris = {CALLBACK}
    refused = _consent(live, redirect_uri="https://evil.example/cb")
    assert refused.status_code == 400 and "AADSTS50011" in refused.text and "Location" not in refused.headers


def test_each_tenant_serves_its_own_directory(live, sim):
    msp = _token(live, sim.tenant.spec.tenant_id)["access_token"]
    fabrikam = _token(live, FABRIKAM)["access_token"]
    fab_users = _get(live, fabrikam, "/users?$select=id,userPrincipalName,userType").json()["value"]
    assert {u["id"] for u in fab_users} == {u.id for u in sim.customers.get(FABRIKAM).tenant.users}
    members = [u for u in fab_users if u["userType"] == "Member"]
    assert len(members) == 7 and all(u["userPrincipalName"].lower().endswith("@fabrikam.example") for u in members)
    org = _get(live, fabrikam, "/organization").json()["value"][0]
    assert org["displayName"] == "Fabrikam Inc"
    domains = {d["id"] for d in _get(live, fabrikam, "/domains").json()["value"]}
    assert domains == {"fabrikam.example", "fabrikam.onmicrosoft.com"}
    assert _get(live, msp, "/organization").json()["value"][0]["displayName"] == "Contoso MSP Ltd"
    # Licences differ: Fabrikam has no Entra ID P1, so the registration report is refused there.
    report = _get(live, fabrikam, "/reports/authenticationMethods/userRegistrationDetails")
    assert report.status_code == 403
    assert _get(live, msp, "/reports/authenticationMethods/userRegistrationDetails").status_code == 200


def test_revoked_consent_fails_that_tenant_only(live, sim):
    sim.customer_consent_revoke(FABRIKAM)
    assert _token(live, FABRIKAM)["error_codes"] == [700016]
    assert "access_token" in _token(live, sim.tenant.spec.tenant_id)


def test_consent_lacking_a_permission_leaves_it_out_of_roles_and_graph_refuses(live, sim):
    sim.customer_consent_limit(FABRIKAM, missing=["Directory.Read.All"])
    token = _token(live, FABRIKAM)["access_token"]
    assert "Directory.Read.All" not in decode_claims(token)["roles"]
    assert _get(live, token, "/directoryRoles").status_code == 403


def test_request_log_names_the_tenant_served(live, sim):
    token = _token(live, FABRIKAM)["access_token"]
    _get(live, token, "/users")
    graph = [r for r in sim.requests if r["path"].startswith("/v1.0/users")]
    assert graph and all(r["tenant"] == FABRIKAM for r in graph)
