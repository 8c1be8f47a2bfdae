"""The Graph simulator: data, HTTP surface, faults and response shapes.

Everything goes through real HTTPS (requests with verify=<simulator CA>) and,
for tokens, through MSAL itself, so what passes here is what the production
client will meet. No database.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msal
import pytest
import requests

from graphsim import (
    ALL_SIX,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SENTINEL_PREFIX,
    GraphSimulator,
    TenantSpec,
    address_at,
    build_tenant,
    serve,
)

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture(scope="module")
def shared():
    """One server for tests that only read; faults and log reset per test."""
    live = start()
    yield live
    live.running.stop()


@pytest.fixture
def live(shared):
    shared.sim.faults.clear()
    shared.sim.clear_requests()
    yield shared
    shared.sim.faults.clear()


@pytest.fixture
def fresh():
    """A server of its own, for tests that change the tenant."""
    live = start()
    yield live
    live.running.stop()


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


# --------------------------------------------------------------------------- tenant data


def test_same_spec_same_tenant_and_seed_matters():
    assert build_tenant(SPEC).snapshot() == build_tenant(SPEC).snapshot()
    other = build_tenant(replace(SPEC, seed=2)).snapshot()
    assert other["mail"] != build_tenant(SPEC).snapshot()["mail"]


def test_directory_has_the_cases_the_app_must_handle():
    t = build_tenant(SPEC)
    upns = [u.upn for u in t.users]
    assert t.technician_upns == [JANE, "jack@contoso-msp.example", "priya@contoso-msp.example", "tomas@contoso-msp.example"]
    assert any(u != u.lower() for u in upns), "some UPNs in mixed case"
    assert any(u.lower().endswith("@eu.fabrikam.example") for u in upns), "users at a customer subdomain"
    guests = [u for u in t.users if u.graph["userType"] == "Guest"]
    assert guests and all("#EXT#@" in g.upn for g in guests)
    assert any(not u.graph["accountEnabled"] for u in t.users), "disabled accounts"
    frontdesk = t.user("FRONTDESK@contoso-msp.example")
    assert frontdesk is not None and not frontdesk.has_mailbox
    assert any("<script>" in u.graph["displayName"] or "onerror" in u.graph["displayName"] or "javascript:" in u.graph["displayName"] for u in t.users)
    org = t.organization
    assert org["displayName"] == "Contoso MSP Ltd"
    assert {"contoso-msp.example", "northwind.example", "eu.fabrikam.example"} <= {d["name"] for d in org["verifiedDomains"]}


def test_mail_data_cases():
    t = build_tenant(SPEC)
    msgs = t.all_messages()
    assert 4 * 60 <= len(msgs) <= 4 * 60 * 1.5
    received = [datetime.fromisoformat(m.graph["receivedDateTime"].replace("Z", "+00:00")) for m in msgs]
    assert min(received) < ANCHOR - timedelta(days=14) < max(received), "some mail older than 14 days"
    assert max(received) <= ANCHOR and min(received) >= ANCHOR - timedelta(days=20)
    # One message, two technician mailboxes: different ids, same internetMessageId.
    by_imid = {}
    for m in msgs:
        by_imid.setdefault(m.graph["internetMessageId"], []).append(m)
    dupes = [v for v in by_imid.values() if len({m.mailbox_upn for m in v}) > 1]
    assert dupes and all(len({m.id for m in v}) == len(v) for v in dupes)
    # Sentinels: in the body only, never in preview or subject, one per message.
    for m in msgs:
        assert m.sentinel and m.sentinel in m.body["content"]
        assert SENTINEL_PREFIX not in json.dumps(m.graph)
        assert len(m.graph["bodyPreview"]) <= 255
    # One sentinel per message: copies of one share it; a reused Message-ID from another sender has its own.
    messages = {(m.graph["internetMessageId"], m.graph["from"]["emailAddress"]["address"]) for m in msgs}
    assert len(t.body_sentinels()) == len(messages) + len({e.sentinel for e in t.all_events(include_masters=True)})
    senders = {m.graph["from"]["emailAddress"]["address"].lower() for m in msgs}
    assert any(a.endswith("@eu.fabrikam.example") for a in senders), "mail sent from a customer subdomain"
    assert any("<script>alert(1)</script>" in m.graph["subject"] for m in msgs)
    assert any("<" in m.graph["from"]["emailAddress"]["name"] for m in msgs)
    off_customer = [m for m in msgs if not any(address_at(a, SPEC.customer_domains) for a in m.participants())]
    assert 0.15 < len(off_customer) / len(msgs) < 0.45
    near_misses = {a for m in off_customer for a in m.participants()}
    assert "billing@fabrikam.example.invoices.example" in near_misses or "ana.brooks@notnorthwind.example" in near_misses


def test_event_data_cases():
    t = build_tenant(SPEC)
    events = t.all_events()
    starts = [datetime.fromisoformat(e.graph["start"]["dateTime"][:19]).replace(tzinfo=timezone.utc) for e in events]
    assert min(starts) < ANCHOR < max(starts)
    assert min(starts) >= ANCHOR - timedelta(days=11) and max(starts) <= ANCHOR + timedelta(days=21)
    assert any(e.graph["isCancelled"] for e in events)
    assert any(e.graph["isAllDay"] for e in events)
    assert any(e.graph["isOnlineMeeting"] and e.graph["onlineMeeting"]["joinUrl"].startswith("https://") for e in events)
    occurrences = [e for e in events if e.graph["type"] in ("occurrence", "exception")]
    assert occurrences and all(e.graph["seriesMasterId"] for e in occurrences)
    customer = t.events_touching(SPEC.customer_domains)
    assert customer and len(customer) < len(events), "some internal-only events"
    assert all(e.sentinel in e.body["content"] and SENTINEL_PREFIX not in json.dumps(e.graph) for e in events)
    # A contact on a personal address counts only when named.
    contact = t.personal_contacts["northwind.example"][0]
    with_contact = t.events_touching(["nothing.example"], contact_emails=[contact.upper()])
    assert all(contact in [a.lower() for a in e.participants()] for e in with_contact)


def test_mfa_and_roles_data():
    t = build_tenant(SPEC)
    members = [u for u in t.users if u.kind == "customer"]
    registered = sum(t.registration_details[u.id]["isMfaRegistered"] for u in members)
    assert 0.6 <= registered / len(members) <= 0.9
    methods_seen = {m for r in t.registration_details.values() for m in r["methodsRegistered"]}
    assert {"mobilePhone", "email", "microsoftAuthenticatorPush"} <= methods_seen
    assert methods_seen & {"fido2", "windowsHelloForBusiness", "passKeyDeviceBound"}
    for user in t.users:
        types = [m["@odata.type"] for m in t.auth_methods[user.id]]
        assert "#microsoft.graph.passwordAuthenticationMethod" in types
        reg = t.registration_details[user.id]
        if "mobilePhone" in reg["methodsRegistered"]:
            phone = next(m for m in t.auth_methods[user.id] if m["@odata.type"].endswith("phoneAuthenticationMethod"))
            assert phone["phoneNumber"].startswith("+1 ")
        if "microsoftAuthenticatorPush" in reg["methodsRegistered"]:
            assert any(m.get("displayName") for m in t.auth_methods[user.id] if "Authenticator" in m["@odata.type"])
    roles = {r.graph["roleTemplateId"]: r for r in t.roles}
    assert GLOBAL_ADMIN in roles and EXCHANGE_ADMIN in roles and "88d8e3e3-8f55-4a1e-953a-9b9898b8876b" in roles
    member_types = {m["@odata.type"] for r in t.roles for m in r.members}
    assert member_types == {"#microsoft.graph.user", "#microsoft.graph.group", "#microsoft.graph.servicePrincipal"}
    user_ids = [m["id"] for r in t.roles for m in r.members if m["@odata.type"] == "#microsoft.graph.user"]
    assert len(user_ids) > len(set(user_ids)), "someone holds several roles"
    privileged = {m["id"] for r in t.roles if r.graph["displayName"] != "Directory Readers" for m in r.members if "user" in m["@odata.type"]}
    assert any(not t.registration_details[i]["isMfaRegistered"] for i in privileged), "a privileged user without MFA"
    assert any(t.user(i).kind == "customer" for i in privileged), "customers' users are privileged too"


def test_ground_truth_matches_subdomains_case_and_not_near_misses():
    t = build_tenant(SPEC)
    fabrikam = t.messages_touching(["Fabrikam.EXAMPLE"])
    assert fabrikam
    for m in fabrikam:
        assert any(a.lower().rsplit("@", 1)[1] in ("fabrikam.example", "eu.fabrikam.example") for a in m.participants())
    assert not any("invoices.example" in a for m in fabrikam for a in m.participants() if "fabrikam" not in a.split("@")[1][:9])
    assert address_at("x@eu.fabrikam.example", ["fabrikam.example"])
    assert address_at("X@FABRIKAM.Example", ["fabrikam.example"])
    assert not address_at("x@notfabrikam.example", ["fabrikam.example"])
    assert not address_at("x@fabrikam.example.invoices.example", ["fabrikam.example"])
    recent = t.messages_touching(SPEC.customer_domains, mailboxes=[JANE], since=ANCHOR - timedelta(days=14))
    assert recent and all(m.mailbox_upn == JANE for m in recent)


# --------------------------------------------------------------------------- Entra


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


# --------------------------------------------------------------------------- tokens and permissions


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


# --------------------------------------------------------------------------- directory endpoints


def test_users_get_select_list_and_404(live):
    resp = live.get(f"/users/{JANE.upper()}?$select=id,displayName,userPrincipalName,mail")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"@odata.context", "id", "displayName", "userPrincipalName", "mail"}
    assert body["mail"] == JANE and body["@odata.context"].endswith("#users(id,displayName,userPrincipalName,mail)/$entity")
    by_id = live.get(f"/users/{body['id']}").json()
    assert set(by_id) - {"@odata.context"} == set(example("user-get.1.json"))
    selected = live.get(f"/users/{body['id']}?$select=displayName,givenName,postalCode,identities").json()
    assert set(selected) == set(example("user-get.3.json")), "no id unless selected, nulls for empty properties"
    guest = next(u for u in live.tenant.users if u.kind == "guest")
    assert live.get("/users/" + guest.upn.replace("#", "%23")).json()["userPrincipalName"] == guest.upn
    assert_graph_error(live.get("/users/nobody@contoso-msp.example"), 404, "Request_ResourceNotFound")
    assert_graph_error(live.get(f"/users/{JANE}?$select=noSuchProperty"), 400, "Request_BadRequest")
    items, pages, _ = live.follow("/users?$top=7&$select=id,userPrincipalName,accountEnabled,userType")
    assert len(items) == len(live.tenant.users) and len(pages) == -(-len(items) // 7)
    assert all(set(i) == {"id", "userPrincipalName", "accountEnabled", "userType"} for i in items)
    guests = live.get("/users?$filter=userType eq 'Guest'").json()["value"]
    assert guests and all(g["userPrincipalName"].count("#EXT#") == 1 for g in guests)


def test_organization_shape(live):
    body = live.get("/organization").json()
    assert set(body) == {"@odata.context", "value"}
    assert set(body["value"][0]) == set(example("organization-get.1.json")) - {"@odata.context"}
    assert set(body["value"][0]["verifiedDomains"][0]) == set(example("organization-get.1.json")["verifiedDomains"][0])


def test_registration_details_paging_shape_and_unlicensed(live):
    items, pages, _ = live.follow("/reports/authenticationMethods/userRegistrationDetails")
    assert len(items) == len(live.tenant.users) and len(pages) == 2  # 50 per page by default
    fixture_item = example("userregistrationdetails-list.1.json")["value"][0]
    assert all(set(i) == set(fixture_item) for i in items)
    assert pages[0]["@odata.context"].endswith("#reports/authenticationMethods/userRegistrationDetails")
    admins = live.get("/reports/authenticationMethods/userRegistrationDetails?$filter=isAdmin eq true").json()["value"]
    assert admins and all(a["isAdmin"] for a in admins)
    live.sim.faults.set("unlicensed_report")
    assert_graph_error(
        live.get("/reports/authenticationMethods/userRegistrationDetails"), 403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    )


def test_authentication_methods_shape(live):
    fixture = {m["@odata.type"]: set(m) for m in example("authentication-list-methods.1.json")["value"]}
    # Microsoft's documented sample spells fido2's createdDateTime "creationDateTime" (see tests/fixtures/graph/README.md).
    fixture["#microsoft.graph.fido2AuthenticationMethod"] = (fixture["#microsoft.graph.fido2AuthenticationMethod"] - {"creationDateTime"}) | {"createdDateTime"}
    seen = set()
    for user in live.tenant.users:
        body = live.get(f"/users/{user.id}/authentication/methods").json()
        assert body["@odata.context"].endswith(f"#users('{user.id}')/authentication/methods")
        for m in body["value"]:
            seen.add(m["@odata.type"])
            if m["@odata.type"] in fixture:
                assert set(m) == fixture[m["@odata.type"]]
    assert set(fixture) <= seen
    assert "#microsoft.graph.phoneAuthenticationMethod" in seen and "#microsoft.graph.passwordAuthenticationMethod" in seen


def test_directory_roles_and_members(live):
    body = live.get("/directoryRoles").json()
    assert body["@odata.context"].endswith("#directoryRoles")
    assert all(set(r) == set(example("directoryrole-list.1.json")["value"][0]) for r in body["value"])
    ga = next(r for r in body["value"] if r["roleTemplateId"] == GLOBAL_ADMIN)
    by_id = live.get(f"/directoryRoles/{ga['id']}/members").json()
    by_template = live.get(f"/directoryRoles/roleTemplateId={GLOBAL_ADMIN}/members").json()
    odata_form = live.get(f"/directoryRoles(roleTemplateId='{GLOBAL_ADMIN}')/members").json()
    assert by_id["value"] == by_template["value"] == odata_form["value"]
    fixture_member = set(example("directoryrole-list-members.1.json")["value"][0])
    users = [m for m in by_id["value"] if m["@odata.type"] == "#microsoft.graph.user"]
    assert users and all(fixture_member | {"@odata.type", "id"} <= set(m) for m in users)
    all_types = set()
    for role in body["value"]:
        all_types |= {m["@odata.type"] for m in live.get(f"/directoryRoles/{role['id']}/members").json()["value"]}
    assert {"#microsoft.graph.group", "#microsoft.graph.servicePrincipal"} <= all_types
    assert_graph_error(live.get("/directoryRoles/00000000-0000-0000-0000-000000000000/members"), 404, "Request_ResourceNotFound")


def test_unknown_route_and_me(live):
    assert_graph_error(live.get("/nothingHere"), 400, "BadRequest")
    assert_graph_error(live.get("/me/messages"), 400, "BadRequest")


# --------------------------------------------------------------------------- mail


def test_message_delta_rounds_return_only_changes(fresh):
    t = fresh.tenant
    url = delta_url(query="$select=subject,from,receivedDateTime,internetMessageId")
    items, pages, delta_link = fresh.follow(url, headers={"Prefer": "odata.maxpagesize=7"})
    inbox = t.messages(JANE, "inbox")
    assert sorted(i["id"] for i in items) == sorted(m.id for m in inbox)
    assert len(pages) == -(-len(inbox) // 7) and all(len(p["value"]) <= 7 for p in pages)
    assert all("@odata.nextLink" in p for p in pages[:-1]) and delta_link
    assert "$skiptoken=" in pages[0]["@odata.nextLink"] and "$deltatoken=" in delta_link
    assert "$select" not in pages[0]["@odata.nextLink"], "tokens carry the query options"

    added = t.add_message(JANE, "inbox", subject="VPN down again", from_="ops@northwind.example")
    changed = inbox[3]
    t.update_message(JANE, "inbox", changed.id, subject="Updated subject")
    removed = inbox[5]
    t.remove_message(JANE, "inbox", removed.id)
    t.add_message(JANE, "sentitems", subject="Other folder")  # not this folder's change

    items2, _, delta_link2 = fresh.follow(delta_link)
    by_id = {i["id"]: i for i in items2}
    assert set(by_id) == {added.id, changed.id, removed.id}
    assert by_id[removed.id] == {"@odata.type": "#microsoft.graph.message", "id": removed.id, "@removed": {"reason": "deleted"}}
    assert by_id[changed.id]["subject"] == "Updated subject"
    assert by_id[added.id]["from"]["emailAddress"]["address"] == "ops@northwind.example"
    assert set(by_id[added.id]) == {"@odata.type", "@odata.etag", "id", "subject", "from", "receivedDateTime", "internetMessageId"}

    items3, _, _ = fresh.follow(delta_link2)
    assert items3 == []


def test_delta_filter_received_since(live):
    since = ANCHOR - timedelta(days=14)
    query = f"$select=receivedDateTime&$filter=receivedDateTime ge {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    items, pages, _ = live.follow(delta_url(query=query), headers={"Prefer": "odata.maxpagesize=5"})
    expected = [m for m in live.tenant.messages(JANE, "inbox") if m.graph["receivedDateTime"] >= since.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert 0 < len(expected) < len(live.tenant.messages(JANE, "inbox"))
    assert sorted(i["id"] for i in items) == sorted(m.id for m in expected)
    assert len(pages) > 1, "the filter survived the nextLinks"
    assert_graph_error(live.get(delta_url(query="$filter=subject eq 'x'")), 400, "ErrorInvalidUrlQueryFilter")


def test_select_never_leaks_the_body(live):
    select = ("id,internetMessageId,conversationId,subject,bodyPreview,from,sender,toRecipients,ccRecipients,bccRecipients,"
              "receivedDateTime,sentDateTime,isDraft,webLink,parentFolderId")
    for folder in ("inbox", "sentitems"):
        for mailbox in live.tenant.technician_upns:
            resp = live.get(delta_url(mailbox, folder, f"$select={select}"), headers={"Prefer": "odata.maxpagesize=1000"})
            assert resp.status_code == 200
            assert SENTINEL_PREFIX not in resp.text and '"body"' not in resp.text
            for item in resp.json()["value"]:
                assert set(item) == {"@odata.type", "@odata.etag", *select.split(",")}
    with_body = live.get(delta_url(query="$select=subject,body")).json()["value"][0]
    assert SENTINEL_PREFIX in with_body["body"]["content"]
    # Without $select Graph sends every property, the body included: the client must always $select.
    assert SENTINEL_PREFIX in live.get(delta_url(query="")).text


def test_message_body_on_demand(live):
    msg = live.tenant.messages(JANE, "inbox")[0]
    html_resp = live.get(f"/users/{JANE}/messages/{msg.id}?$select=body", headers={"Prefer": 'IdType="ImmutableId"'})
    body = html_resp.json()
    assert set(body) == {"@odata.context", "@odata.etag", "id", "body"}
    assert body["body"]["contentType"] == "html" and msg.sentinel in body["body"]["content"]
    assert 'IdType="ImmutableId"' in html_resp.headers["Preference-Applied"]
    text = live.get(f"/users/{JANE}/messages/{msg.id}?$select=body", headers={"Prefer": 'outlook.body-content-type="text"'})
    assert text.json()["body"]["contentType"] == "text" and "<p>" not in text.json()["body"]["content"]
    assert text.headers["Preference-Applied"] == 'outlook.body-content-type="text"'
    assert_graph_error(live.get(f"/users/{JANE}/messages/AAMkAGnope="), 404, "ErrorItemNotFound")
    assert_graph_error(live.get(f"/users/{JANE}/messages/{msg.id}?$select=nope"), 400, "RequestBroker--ParseUri")


def test_message_shapes_match_examples(live):
    msg = live.tenant.messages(JANE, "inbox")[0]
    full = live.get(f"/users/{JANE}/messages/{msg.id}").json()
    assert set(example("message-get.1.json")) <= set(full)
    three = live.get(f"/users/{JANE}/messages/{msg.id}?$select=subject,body,bodyPreview,uniqueBody").json()
    assert set(three) == set(example("message-get.3.json"))
    page = live.get(delta_url(query="$select=subject,sender,isRead"), headers={"Prefer": "odata.maxpagesize=2"}).json()
    fixture = example("message-delta-sequence.1.json")
    assert set(page) == set(fixture)
    assert all(set(i) == set(fixture["value"][0]) for i in page["value"])
    assert set(example("message-delta.1.json")["value"][0]) <= set(live.get(delta_url(query="")).json()["value"][0])


def test_mailbox_without_exchange_and_access_policy(live):
    err = assert_graph_error(live.get(delta_url("frontdesk@contoso-msp.example")), 404, "MailboxNotEnabledForRESTAPI")
    assert "inactive" in err["message"]
    assert live.get("/users/frontdesk@contoso-msp.example").status_code == 200, "the user itself exists"
    assert_graph_error(live.get(delta_url("nobody@contoso-msp.example")), 404, "ErrorInvalidUser")
    live.sim.faults.set("mailbox_not_enabled", mailboxes=["jack@contoso-msp.example"])
    assert_graph_error(live.get(delta_url("JACK@contoso-msp.example")), 404, "MailboxNotEnabledForRESTAPI")
    live.sim.faults.set("access_policy_block", mailboxes=[JANE])
    err = assert_graph_error(live.get(delta_url()), 403, "ErrorAccessDenied")
    assert err["message"] == "Access to OData is disabled."
    assert_graph_error(live.get(f"/users/{JANE}/calendarView?startDateTime=2025-03-01&endDateTime=2025-03-02"), 403, "ErrorAccessDenied")
    assert live.get(delta_url("priya@contoso-msp.example")).status_code == 200


def test_mailbox_less_technician_by_spec():
    live = start(replace(SPEC, no_mailbox_upns=("tomas@contoso-msp.example",)))
    try:
        assert "tomas@contoso-msp.example" in live.tenant.technician_upns
        assert live.tenant.messages("tomas@contoso-msp.example") == []
        assert_graph_error(live.get(delta_url("tomas@contoso-msp.example")), 404, "MailboxNotEnabledForRESTAPI")
    finally:
        live.running.stop()


# --------------------------------------------------------------------------- calendar


def window_query(start, end):
    return f"startDateTime={start.strftime('%Y-%m-%dT%H:%M:%SZ')}&endDateTime={end.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def test_calendar_view_window_paging_and_timezone(live):
    start, end = ANCHOR - timedelta(days=7), ANCHOR + timedelta(days=14)
    items, pages, _ = live.follow(f"/users/{JANE}/calendarView?{window_query(start, end)}&$top=4", headers={"Prefer": 'outlook.timezone="UTC"'})
    expected = [
        e for e in live.tenant.events(JANE, include_masters=False)
        if e in live.tenant.events_touching(["contoso-msp.example", *SPEC.customer_domains, "personal-mail.example"], start=start, end=end)
    ]
    assert sorted(i["id"] for i in items) == sorted(e.id for e in expected)
    assert len(pages) > 1 and all(i["type"] != "seriesMaster" for i in items)
    assert all(i["start"]["timeZone"] == "UTC" for i in items)
    assert SENTINEL_PREFIX in json.dumps(items), "calendarView without $select returns bodies, as Graph does"
    fixture_keys = set(example("user-list-calendarview.1.json")["value"][0])
    assert all(fixture_keys <= set(i) for i in items)
    pst = live.get(f"/users/{JANE}/calendarView?{window_query(start, end)}&$select=subject,start,end",
                   headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'})
    first = pst.json()["value"][0]
    assert first["start"]["timeZone"] == "Pacific Standard Time" and set(first) == {"@odata.etag", "id", "subject", "start", "end"}
    utc_first = next(i for i in items if i["id"] == first["id"])
    assert utc_first["start"]["dateTime"] != first["start"]["dateTime"]
    assert_graph_error(live.get(f"/users/{JANE}/calendarView"), 400, "ErrorInvalidParameter")


def test_event_body_and_shape(live):
    event = live.tenant.events(JANE, include_masters=False)[0]
    body = live.get(f"/users/{JANE}/events/{event.id}?$select=body").json()
    assert event.sentinel in body["body"]["content"]
    sel = "subject,body,bodyPreview,organizer,attendees,start,end,location,hideAttendees"
    got = live.get(f"/users/{JANE}/events/{event.id}?$select={sel}", headers={"Prefer": 'outlook.timezone="UTC"'}).json()
    assert set(got) == set(example("event-get.1.json"))
    assert set(got["attendees"][0]) == set(example("event-get.1.json")["attendees"][0])


def test_calendar_delta_rounds(fresh):
    t = fresh.tenant
    start, end = ANCHOR - timedelta(days=7), ANCHOR + timedelta(days=14)
    items, pages, delta_link = fresh.follow(f"/users/{JANE}/calendarView/delta?{window_query(start, end)}", headers={"Prefer": "odata.maxpagesize=5"})
    touching = t.events_touching(["contoso-msp.example", *SPEC.customer_domains, "personal-mail.example"], start=start, end=end)
    in_window = [e for e in t.events(JANE, include_masters=False) if e in touching]
    assert sorted(i["id"] for i in items) == sorted(e.id for e in in_window)
    assert len(pages) > 1 and all(i["@odata.type"] == "#microsoft.graph.event" for i in items)
    assert set(example("event-delta.1.json")["value"][0]) <= set(items[0])
    assert SENTINEL_PREFIX in json.dumps(items), "calendarView/delta ignores $select and returns bodies"

    new = t.add_event(JANE, subject="Fabrikam call", start=ANCHOR + timedelta(days=2), attendees=["cto@fabrikam.example"])
    t.add_event(JANE, subject="Far future", start=ANCHOR + timedelta(days=60))  # outside the fixed window
    gone = in_window[0]
    t.remove_event(JANE, gone.id)
    moved = in_window[1]
    t.update_event(JANE, moved.id, start=ANCHOR + timedelta(days=90), end=ANCHOR + timedelta(days=90, hours=1))
    items2, _, _ = fresh.follow(delta_link)
    by_id = {i["id"]: i for i in items2}
    assert set(by_id) == {new.id, gone.id, moved.id}
    assert by_id[gone.id]["@removed"] == {"reason": "deleted"} and by_id[moved.id]["@removed"] == {"reason": "deleted"}
    assert by_id[new.id]["attendees"][0]["emailAddress"]["address"] == "cto@fabrikam.example"


# --------------------------------------------------------------------------- batch


def test_batch_dispatches_and_limits(live):
    users = live.tenant.users[:20]
    req = {"requests": [{"id": str(i), "method": "GET", "url": f"/users/{u.id}/authentication/methods"} for i, u in enumerate(users)]}
    body = live.post("/$batch", req).json()
    assert set(body) == set(example("batch-response.1.json"))
    assert [r["id"] for r in body["responses"]] == [str(i) for i in range(20)]
    for r, u in zip(body["responses"], users, strict=True):
        assert set(r) == set(example("batch-response.1.json")["responses"][0])
        assert r["status"] == 200 and r["body"]["value"] == live.tenant.auth_methods[u.id]
    assert sum(1 for r in live.sim.requests if r["via_batch"]) == 20
    too_many = {"requests": req["requests"] + [{"id": "20", "method": "GET", "url": "/organization"}]}
    assert_graph_error(live.post("/$batch", too_many), 400, "BadRequest")
    mixed = live.post("/$batch", {"requests": [
        {"id": "a", "method": "GET", "url": "/users/nobody@x.example"},
        {"id": "b", "method": "GET", "url": "organization"},
    ]}).json()["responses"]
    assert mixed[0]["status"] == 404 and mixed[0]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert mixed[1]["status"] == 200
    assert_graph_error(live.http.post(live.g + "/$batch", json=req), 401, "InvalidAuthenticationToken")


def test_batch_items_can_be_throttled(live):
    live.sim.faults.set("throttle", every=3, retry_after=7, path="/authentication/methods")
    req = {"requests": [{"id": str(i), "method": "GET", "url": f"/users/{u.id}/authentication/methods"} for i, u in enumerate(live.tenant.users[:9])]}
    resp = live.post("/$batch", req)
    assert resp.status_code == 200
    statuses = [r["status"] for r in resp.json()["responses"]]
    assert statuses == [200, 200, 429] * 3
    throttled = resp.json()["responses"][2]
    assert throttled["headers"]["Retry-After"] == "7" and throttled["body"]["error"]["code"] == "TooManyRequests"


# --------------------------------------------------------------------------- faults


def test_throttle_every_count_and_path(live):
    live.sim.faults.set("throttle", every=2)
    statuses = [live.get("/organization").status_code for _ in range(6)]
    assert statuses == [200, 429] * 3
    live.sim.faults.set("throttle", count=2, retry_after=3, path=r"/messages/delta")
    assert live.get("/organization").status_code == 200
    first = live.get(delta_url())
    err = assert_graph_error(first, 429, "TooManyRequests")
    assert first.headers["Retry-After"] == "3"
    assert set(example("error-TooManyRequests.json")["error"]["innerError"]) <= set(err["innerError"])
    assert live.get(delta_url()).status_code == 429
    assert live.get(delta_url()).status_code == 200, "count=2 then it clears itself"
    assert "throttle" not in live.sim.faults.active()


def test_unavailable_and_slow(live):
    live.sim.faults.set("unavailable", count=1, retry_after=2)
    resp = live.get("/organization")
    assert_graph_error(resp, 503, "ServiceUnavailable")
    assert resp.headers["Retry-After"] == "2"
    live.sim.faults.set("slow", delay=0.4, count=1)
    t0 = time.monotonic()
    assert live.get("/organization").status_code == 200
    assert time.monotonic() - t0 >= 0.4


def test_truncated_json_and_connection_reset(live):
    live.sim.faults.set("truncated_json", count=1)
    resp = live.get("/organization")
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        resp.json()
    assert live.get("/organization").json()["value"]
    live.sim.faults.set("connection_reset", count=1, path="/directoryRoles")
    with pytest.raises(requests.ConnectionError):
        live.get("/directoryRoles")
    assert live.get("/directoryRoles").status_code == 200
    assert [r["note"] for r in live.sim.requests if r["path"] == "/v1.0/directoryRoles"] == ["connection_reset", None]


def test_faults_reach_entra_only_with_a_path(live):
    live.sim.faults.set("unavailable")
    assert live.token_response().status_code == 200, "no path: Graph only"
    live.sim.faults.set("unavailable", path="/oauth2/")
    assert live.token_response().status_code == 503


def test_expired_delta_token_then_resync(fresh):
    _, _, old_link = fresh.follow(delta_url())
    fresh.sim.faults.set("delta_expired")
    err = assert_graph_error(fresh.get(old_link), 410, "syncStateNotFound")
    assert "resync" in err["message"].lower()
    items, _, new_link = fresh.follow(delta_url())
    assert len(items) == len(fresh.tenant.messages(JANE, "inbox"))
    assert fresh.follow(new_link)[0] == []


def test_empty_pages_with_next_link(live):
    live.sim.faults.set("empty_pages")
    items, pages, delta_link = live.follow(delta_url(), headers={"Prefer": "odata.maxpagesize=20"})
    assert len(items) == len(live.tenant.messages(JANE, "inbox"))
    assert any(p["value"] == [] and "@odata.nextLink" in p for p in pages) and delta_link


def test_unknown_fault_is_refused(live):
    with pytest.raises(ValueError):
        live.sim.faults.set("made_up")


# --------------------------------------------------------------------------- request log and controls


def test_request_log_records_what_was_asked(live):
    token = live.new_token()
    live.get(delta_url(), token=token, headers={"Prefer": "odata.maxpagesize=3"})
    live.http.get(live.g + "/organization")  # no token
    log = live.sim.requests
    delta = next(r for r in log if r["path"].endswith("/messages/delta"))
    assert delta["method"] == "GET" and delta["user"] == JANE and delta["status"] == 200
    assert delta["query"] == {"$select": "subject,from,receivedDateTime"}
    assert delta["prefer"] == "odata.maxpagesize=3" and delta["authorization"] is True
    assert log[-1]["authorization"] is False and log[-1]["status"] == 401
    assert any(r["path"].endswith("/oauth2/v2.0/token") for r in log)
    assert not any("body" in (r["query"].get("$select") or "") for r in log)
    live.sim.clear_requests()
    assert live.sim.requests == []


def test_control_endpoints(fresh):
    base = fresh.running.login_base_url
    http = fresh.http
    info = http.get(f"{base}/_sim/info").json()
    assert info["tenant_id"] == fresh.tenant.spec.tenant_id and info["client_id"] == DEMO_CLIENT_ID
    assert http.post(f"{base}/_sim/faults", json={"name": "throttle", "params": {"count": 1}}).json()["active"] == {"throttle": {"count": 1}}
    assert fresh.get("/organization").status_code == 429
    assert http.post(f"{base}/_sim/faults", json={"name": "bogus"}).status_code == 400
    http.post(f"{base}/_sim/faults", json={"name": "slow", "params": {"delay": 0}})
    assert http.post(f"{base}/_sim/faults", json={"clear": "all"}).json()["active"] == {}
    log = http.get(f"{base}/_sim/requests").json()["requests"]
    assert log and not any(r["path"].startswith("/_sim") for r in log)
    since = log[-1]["seq"]
    fresh.get("/organization")
    assert [r["path"] for r in http.get(f"{base}/_sim/requests?since={since}").json()["requests"]] == ["/v1.0/organization"]
    added = http.post(f"{base}/_sim/messages", json={"mailbox": JANE, "folder": "inbox", "subject": "From a browser test"}).json()
    assert fresh.tenant.find_message(JANE, added["id"]).graph["subject"] == "From a browser test"
    assert added["sentinel"].startswith(SENTINEL_PREFIX)
    http.post(f"{base}/_sim/messages/remove", json={"mailbox": JANE, "folder": "inbox", "id": added["id"]})
    assert fresh.tenant.find_message(JANE, added["id"]) is None
    http.post(f"{base}/_sim/faults", json={"name": "wrong_secret"})
    assert http.post(f"{base}/_sim/reset", json={"tenant": True}).json()["active"] == {}
    assert fresh.sim.requests == [] and fresh.token_response().status_code == 200


def test_wsgi_app_without_a_server():
    """The simulator is a plain WSGI app: usable in-process too."""
    import io
    from wsgiref.util import setup_testing_defaults

    sim = GraphSimulator(build_tenant(SPEC))
    environ = {"PATH_INFO": f"/{SPEC.tenant_id}/v2.0/.well-known/openid-configuration", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    seen = {}
    body = b"".join(sim(environ, lambda status, headers: seen.update(status=status)))
    assert seen["status"].startswith("200") and b"token_endpoint" in body


def test_management_command_serves_and_writes_info(tmp_path):
    info_file = tmp_path / "sim.json"
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "vectis.settings"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "m365_simulator", "--port", "0", "--info-file", str(info_file),
         "--messages-per-mailbox", "5", "--fault", "throttle:count=1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not info_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"simulator did not start: {proc.communicate()[1][-2000:]}")
            time.sleep(0.1)
        info = json.loads(info_file.read_text())
        assert info["client_id"] == DEMO_CLIENT_ID and info["client_secret"] == DEMO_CLIENT_SECRET
        http = VerifySession(info["ca_path"])
        assert http.get(f"{info['login_base_url']}/_sim/info").json()["tenant_id"] == info["tenant_id"]
        app = msal.ConfidentialClientApplication(
            info["client_id"], client_credential=info["client_secret"], authority=info["authority"],
            instance_discovery=False, http_client=http,
        )
        token = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])["access_token"]
        statuses = [http.get(info["graph_base_url"] + "/organization", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(2)]
        assert statuses == [429, 200]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert "graph base url" in out and "VECTIS_GRAPH_CA_BUNDLE=" in out
    assert not info_file.exists(), "removed on shutdown"
    assert not Path(info["ca_path"]).exists(), "certificate directory cleaned up"



def test_mail_folder_get_proves_mailbox_access(live):
    """The connector's Test reads /mailFolders/inbox: it answers for a real mailbox,
    and with Exchange's codes for a mailbox-less user or an access-policy block."""
    resp = live.get(f"/users/{JANE}/mailFolders/inbox?$select=id")
    assert resp.status_code == 200 and resp.json()["id"]
    assert_graph_error(live.get("/users/frontdesk@contoso-msp.example/mailFolders/inbox"), 404, "MailboxNotEnabledForRESTAPI")
    live.sim.faults.set("access_policy_block", mailboxes=[JANE])
    assert_graph_error(live.get(f"/users/{JANE}/mailFolders/inbox"), 403, "ErrorAccessDenied")
