"""GraphClient against HTTP-level mocks (responses): tokens, allow-list,
retries, paging, errors and counters. No database, no real network."""

import base64
import json
import pickle
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
import responses
from responses import matchers

from integrations.m365 import errors
from integrations.m365.client import EVENT_FIELDS, MESSAGE_FIELDS, GraphClient
from integrations.m365.transport import RetryPolicy

LOGIN = "https://login.vectis.test"
GRAPH = "https://graph.vectis.test/v1.0"
SECRET = "Zq8~s3cr3t-VALUE-never-shown_0123456789"
ALL_ROLES = [
    "Mail.Read",
    "Calendars.Read",
    "User.Read.All",
    "Reports.Read.All",
    "AuditLog.Read.All",
    "UserAuthenticationMethod.Read.All",
    "Directory.Read.All",
]
ALLOWED = ["jane@msp.example", "Jack@MSP.example"]
JANE_ID = "11111111-2222-3333-4444-555555555555"


# ------------------------------------------------------------------ helpers


def make_jwt(claims):
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def add_discovery(rsps, tenant):
    rsps.get(
        f"{LOGIN}/{tenant}/v2.0/.well-known/openid-configuration",
        json={
            "authorization_endpoint": f"{LOGIN}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{LOGIN}/{tenant}/oauth2/v2.0/token",
            "issuer": f"{LOGIN}/{tenant}/v2.0",
        },
    )


def add_token(rsps, tenant, roles=ALL_ROLES, **kwargs):
    body = kwargs.pop("json", None) or {
        "access_token": make_jwt({"roles": list(roles), "tid": tenant}),
        "token_type": "Bearer",
        "expires_in": 3599,
    }
    return rsps.post(f"{LOGIN}/{tenant}/oauth2/v2.0/token", json=body, **kwargs)


def add_login(rsps, tenant, roles=ALL_ROLES):
    add_discovery(rsps, tenant)
    add_token(rsps, tenant, roles)


class Sleeps(list):
    """Injected sleep: records waits instead of sleeping."""

    def __call__(self, seconds):
        self.append(seconds)


class Provider:
    """secret_provider that counts how often the secret was needed."""

    def __init__(self, secret=SECRET):
        self.secret, self.calls = secret, 0

    def __call__(self):
        self.calls += 1
        return self.secret


def make_client(tenant, *, allowed=ALLOWED, sleeps=None, provider=None, fingerprint="fp-1", **kwargs):
    kwargs.setdefault("retry", RetryPolicy(max_retries=3, max_network_retries=2, backoff_base=1.0, max_wait=30, max_total_wait=100))
    kwargs.setdefault("graph_base_url", GRAPH)
    kwargs.setdefault("login_base_url", LOGIN)
    kwargs.setdefault("jitter", lambda: 0.5)
    return GraphClient(
        tenant_id=tenant,
        client_id="00000000-aaaa-bbbb-cccc-000000000001",
        secret_provider=provider or Provider(),
        secret_fingerprint=fingerprint,
        allowed_mailboxes=allowed,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **kwargs,
    )


def graph_error(code, message="boom", request_id="req-123"):
    inner = {"date": "2025-05-01T10:00:00", "request-id": request_id, "client-request-id": "cli-456"}
    return {"error": {"code": code, "message": message, "innerError": inner}}



@pytest.fixture
def tenant():
    return str(uuid.uuid4())


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def assert_secret_absent(*texts):
    for text in texts:
        assert SECRET not in text


# ------------------------------------------------------------------ session and tokens


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


# ------------------------------------------------------------------ allow-list


def _mailbox_calls(client, mailbox):
    start = datetime(2025, 5, 1, tzinfo=timezone.utc)
    return [
        lambda: client.mailbox_get(mailbox),
        lambda: client.message_delta(mailbox, "inbox"),
        lambda: client.message_body(mailbox, "AAMkAD="),
        lambda: client.calendar_view(mailbox, start, start + timedelta(days=14)),
        lambda: client.event_body(mailbox, "AAMkEV="),
    ]


@pytest.mark.parametrize("mailbox", ["eve@msp.example", "JANE@other.example", JANE_ID, "", "me"])
def test_off_list_mailbox_is_refused_before_any_request_or_token(rsps, tenant, mailbox):
    provider = Provider()
    client = make_client(tenant, provider=provider)
    for call in _mailbox_calls(client, mailbox):
        with pytest.raises(errors.MailboxNotAllowed) as caught:
            call()
        assert "not on the Technician Mailboxes list" in str(caught.value)
    assert len(rsps.calls) == 0
    assert provider.calls == 0
    assert client.counters.total_requests == 0


def test_allow_list_is_case_insensitive_and_ids_resolve_through_mailbox_get(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(
        f"{GRAPH}/users/jack@msp.example",
        json={"id": JANE_ID, "userPrincipalName": "Jack@msp.example", "displayName": "Jack", "mail": "jack@msp.example"},
        match=[matchers.query_param_matcher({"$select": "id,displayName,userPrincipalName,mail"})],
    )
    rsps.get(f"{GRAPH}/users/{JANE_ID}/messages/M1", json={"body": {"contentType": "html", "content": "<p>hi</p>"}})
    client = make_client(tenant)
    with pytest.raises(errors.MailboxNotAllowed):
        client.message_body(JANE_ID, "M1")  # id not resolved yet
    client.mailbox_get("jack@msp.example")
    assert client.message_body(JANE_ID, "M1")["body"]["content"] == "<p>hi</p>"
    assert client.mailbox_ids == {JANE_ID: "jack@msp.example"}


def test_allow_list_changes_are_seen_immediately(rsps, tenant):
    current = list(ALLOWED)
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/users/jane@msp.example", json={"id": JANE_ID, "userPrincipalName": "jane@msp.example"})
    client = make_client(tenant, allowed=lambda: current)
    client.mailbox_get("jane@msp.example")
    current.remove("jane@msp.example")
    calls_before = len(rsps.calls)
    for mailbox in ("jane@msp.example", JANE_ID):
        with pytest.raises(errors.MailboxNotAllowed):
            client.message_body(mailbox, "M1")
    assert len(rsps.calls) == calls_before


def test_known_mailbox_ids_from_storage_are_accepted(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/users/{JANE_ID}/events/E1", json={"body": {"contentType": "html", "content": "x"}})
    client = make_client(tenant, known_mailbox_ids={JANE_ID: "jane@msp.example"})
    client.event_body(JANE_ID, "E1")
    prefer = rsps.calls[-1].request.headers["Prefer"]
    assert 'IdType="ImmutableId"' in prefer and 'outlook.timezone="UTC"' in prefer


def test_a_delta_link_naming_another_mailbox_is_refused(rsps, tenant):
    client = make_client(tenant)
    link = f"{GRAPH}/users/eve@msp.example/mailFolders('inbox')/messages/delta?$deltatoken=abc"
    with pytest.raises(errors.MailboxNotAllowed):
        client.message_delta("jane@msp.example", "inbox", delta_link=link)
    foreign = "https://evil.example/v1.0/users/jane@msp.example/mailFolders/inbox/messages/delta?$deltatoken=abc"
    with pytest.raises(errors.MalformedResponseError):
        client.message_delta("jane@msp.example", "inbox", delta_link=foreign)
    assert len(rsps.calls) == 0


# ------------------------------------------------------------------ retries


def test_retry_after_is_honoured_including_fractions(rsps, tenant):
    add_login(rsps, tenant)
    url = f"{GRAPH}/organization"
    rsps.get(url, status=429, headers={"Retry-After": "2.128"}, json=graph_error("TooManyRequests"))
    rsps.get(url, json={"value": [{"id": "o"}]})
    sleeps = Sleeps()
    client = make_client(tenant, sleeps=sleeps)
    assert client.organization_get()["id"] == "o"
    assert sleeps == [2.128]
    assert client.counters.retries == 1
    assert client.counters.throttled == 1
    assert client.counters.throttled_wait_seconds == pytest.approx(2.128)
    assert client.counters.requests["organization"] == 2


def test_throttling_is_bounded_then_a_throttled_error(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", status=429, headers={"Retry-After": "1"}, json=graph_error("TooManyRequests", request_id="rid-429"))
    sleeps = Sleeps()
    client = make_client(tenant, sleeps=sleeps)
    with pytest.raises(errors.ThrottledError) as caught:
        client.organization_get()
    assert sleeps == [1.0, 1.0, 1.0]  # max_retries=3
    assert client.counters.requests["organization"] == 4
    assert caught.value.request_id == "rid-429" and "rid-429" in str(caught.value)
    assert caught.value.retry_after == 1.0


def test_a_retry_after_longer_than_the_per_wait_cap_gives_up_at_once(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", status=429, headers={"Retry-After": "600"}, json=graph_error("TooManyRequests"))
    sleeps = Sleeps()
    with pytest.raises(errors.ThrottledError) as caught:
        make_client(tenant, sleeps=sleeps).organization_get()
    assert sleeps == [] and caught.value.retry_after == 600


def test_total_wait_budget_bounds_retries(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", status=503, headers={"Retry-After": "25"}, json=graph_error("serviceNotAvailable"))
    sleeps = Sleeps()
    retry = RetryPolicy(max_retries=10, max_wait=30, max_total_wait=60)
    with pytest.raises(errors.TransientError):
        make_client(tenant, sleeps=sleeps, retry=retry).organization_get()
    assert sleeps == [25.0, 25.0]


@pytest.mark.parametrize("status", [503, 504])
def test_5xx_backoff_is_exponential_and_capped(rsps, tenant, status):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", status=status, body="<html>gateway</html>")
    sleeps = Sleeps()
    retry = RetryPolicy(max_retries=6, backoff_base=1.0, max_wait=4.0, max_total_wait=1000)
    client = GraphClient(
        tenant_id=tenant, client_id="c", secret_provider=Provider(), secret_fingerprint="f", allowed_mailboxes=[],
        graph_base_url=GRAPH, login_base_url=LOGIN, sleep=sleeps, jitter=lambda: 1.0, retry=retry,
    )
    with pytest.raises(errors.TransientError) as caught:
        client.organization_get()
    assert sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert caught.value.status == status


def test_backoff_jitter_stays_within_half_and_full_ceiling(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", status=503)
    sleeps = Sleeps()
    client = GraphClient(
        tenant_id=tenant, client_id="c", secret_provider=Provider(), secret_fingerprint="f", allowed_mailboxes=[],
        graph_base_url=GRAPH, login_base_url=LOGIN, sleep=sleeps, retry=RetryPolicy(max_retries=5, max_wait=8),
    )
    with pytest.raises(errors.TransientError):
        client.organization_get()
    for attempt, wait in enumerate(sleeps):
        ceiling = min(8, 2**attempt)
        assert ceiling / 2 <= wait <= ceiling


def test_connection_errors_are_retried_a_bounded_number_of_times(rsps, tenant):
    add_login(rsps, tenant)
    url = f"{GRAPH}/organization"
    rsps.get(url, body=requests.ConnectionError("reset"))
    rsps.get(url, body=requests.ReadTimeout("read timed out"))
    rsps.get(url, json={"value": [{"id": "o"}]})
    sleeps = Sleeps()
    client = make_client(tenant, sleeps=sleeps)
    assert client.organization_get()["id"] == "o"
    assert len(sleeps) == 2 and client.counters.network_errors == 2

    rsps.replace(responses.GET, url, body=requests.ConnectionError("down"))
    with pytest.raises(errors.NetworkError):
        client.organization_get()
    assert client.counters.network_errors == 5


def test_401_mid_run_drops_the_token_and_retries_once(rsps, tenant):
    add_discovery(rsps, tenant)
    token_call = add_token(rsps, tenant)
    url = f"{GRAPH}/organization"
    rsps.get(url, json={"value": [{"id": "first"}]})
    rsps.get(url, status=401, json=graph_error("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."))
    rsps.get(url, json={"value": [{"id": "after-refresh"}]})
    client = make_client(tenant)
    assert client.organization_get()["id"] == "first"
    assert client.organization_get()["id"] == "after-refresh"
    assert token_call.call_count == 2  # the cached token was dropped and a new one fetched
    assert client.counters.token_refreshes == 1

    rsps.replace(responses.GET, url, status=401, json=graph_error("InvalidAuthenticationToken"))
    with pytest.raises(errors.AuthenticationError) as caught:
        client.organization_get()
    assert caught.value.reason == "invalid_token"


# ------------------------------------------------------------------ paging


def test_paging_follows_next_links_verbatim_through_empty_pages_to_the_delta_link(rsps, tenant):
    add_login(rsps, tenant)
    first = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta"
    # Links as Graph writes them; the client must not rebuild or re-encode them.
    link2 = f"{GRAPH}/users('{JANE_ID}')/mailFolders('inbox')/messages/delta?$skiptoken=Gw1%2BaB-_x&$select=id"
    link3 = f"{GRAPH}/users('{JANE_ID}')/mailFolders('inbox')/messages/delta?$skiptoken=Gw2"
    delta = f"{GRAPH}/users('{JANE_ID}')/mailFolders('inbox')/messages/delta?$deltatoken=Dt9"
    rsps.get(first, json={"value": [{"id": "m1"}, {"id": "m2"}], "@odata.nextLink": link2})
    rsps.get(link2, json={"value": [], "@odata.nextLink": link3})
    rsps.get(link3, json={"value": [{"id": "m3", "@removed": {"reason": "deleted"}}], "@odata.deltaLink": delta})
    client = make_client(tenant, known_mailbox_ids={JANE_ID: "jane@msp.example"})

    pages = client.message_delta("jane@msp.example", "inbox", page_size=2)
    assert len(rsps.calls) == 0  # lazy until iterated
    seen = [[item["id"] for item in page] for page in pages]

    assert seen == [["m1", "m2"], [], ["m3"]]
    assert pages.delta_link == delta
    assert (pages.pages, pages.items) == (3, 3)
    graph_calls = [c.request for c in rsps.calls if c.request.url.startswith(GRAPH)]
    assert [r.url for r in graph_calls[1:]] == [link2, link3]
    first_request = graph_calls[0]
    assert first_request.params == {"$select": MESSAGE_FIELDS}
    assert "body" not in first_request.params["$select"].split(",")
    for request in graph_calls:
        assert request.headers["Prefer"] == 'IdType="ImmutableId", odata.maxpagesize=2'
    assert client.counters.requests["message_delta"] == 3


def test_delta_resumes_from_the_stored_link_without_adding_options(rsps, tenant):
    add_login(rsps, tenant)
    delta = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta?$deltatoken=Dt9"
    new_delta = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta?$deltatoken=Dt10"
    rsps.get(delta, json={"value": [], "@odata.deltaLink": new_delta}, match=[matchers.query_string_matcher("$deltatoken=Dt9")])
    pages = make_client(tenant).message_delta("jane@msp.example", "inbox", delta_link=delta)
    assert list(pages) == [[]]
    assert pages.delta_link == new_delta
    assert rsps.calls[-1].request.url == delta


def test_received_since_filters_the_initial_delta(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(
        f"{GRAPH}/users/jane@msp.example/mailFolders/sentitems/messages/delta",
        json={"value": [], "@odata.deltaLink": f"{GRAPH}/x?$deltatoken=1"},
        match=[matchers.query_param_matcher({"$select": MESSAGE_FIELDS, "$filter": "receivedDateTime ge 2025-04-17T00:00:00Z"})],
    )
    since = datetime(2025, 4, 17, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    list(make_client(tenant).message_delta("jane@msp.example", "sentitems", received_since=since))


def test_a_next_link_to_another_host_is_never_followed(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/users", json={"value": [{"id": "u1"}], "@odata.nextLink": "https://attacker.example/steal?token=1"})
    pages = make_client(tenant).users()
    with pytest.raises(errors.MalformedResponseError):
        list(pages)
    assert not any("attacker" in c.request.url for c in rsps.calls)


def test_a_repeating_next_link_is_a_malformed_response(rsps, tenant):
    add_login(rsps, tenant)
    loop = f"{GRAPH}/users?$skiptoken=same"
    first_page = matchers.query_param_matcher({"$select": "id,userPrincipalName,displayName,accountEnabled,userType", "$top": "999"})
    rsps.get(f"{GRAPH}/users", json={"value": [], "@odata.nextLink": loop}, match=[first_page])
    rsps.get(loop, json={"value": [], "@odata.nextLink": loop})
    with pytest.raises(errors.MalformedResponseError):
        list(make_client(tenant).users())


def test_calendar_view_asks_for_utc_immutable_ids_and_no_body(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(
        f"{GRAPH}/users/jane@msp.example/calendarView",
        json={"value": [{"id": "e1"}]},
        match=[
            matchers.query_param_matcher(
                {"startDateTime": "2025-05-01T00:00:00Z", "endDateTime": "2025-05-15T00:00:00Z", "$select": EVENT_FIELDS, "$top": "50"}
            ),
            matchers.header_matcher({"Prefer": 'IdType="ImmutableId", outlook.timezone="UTC"'}),
        ],
    )
    start = datetime(2025, 5, 1, tzinfo=timezone.utc)
    pages = make_client(tenant).calendar_view("jane@msp.example", start, start + timedelta(days=14))
    assert [e["id"] for page in pages for e in page] == ["e1"]
    assert pages.delta_link is None
    assert "body" not in EVENT_FIELDS.split(",")


def test_message_body_selects_only_the_body_with_immutable_ids(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(
        f"{GRAPH}/users/jane@msp.example/messages/AAMk%2Fid=",
        json={"body": {"contentType": "html", "content": "<b>x</b>"}},
        match=[
            matchers.query_param_matcher({"$select": "body"}),
            matchers.header_matcher({"Prefer": 'IdType="ImmutableId", outlook.body-content-type="html"'}),
        ],
    )
    body = make_client(tenant).message_body("jane@msp.example", "AAMk/id=")
    assert body["body"]["content"] == "<b>x</b>"


# ------------------------------------------------------------------ error mapping


def _fail(rsps, tenant, url, status, body, roles=ALL_ROLES):
    add_discovery(rsps, tenant)
    add_token(rsps, tenant, roles)
    if isinstance(body, (dict, list)):
        rsps.get(url, status=status, json=body)
    else:
        rsps.get(url, status=status, body=body)


def test_403_names_the_missing_permission(rsps, tenant):
    denied = graph_error("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    _fail(rsps, tenant, f"{GRAPH}/users", 403, denied, roles=["Mail.Read"])
    with pytest.raises(errors.PermissionDeniedError) as caught:
        list(make_client(tenant).users())
    assert caught.value.missing_permission == "User.Read.All"
    assert "User.Read.All" in str(caught.value) and "req-123" in str(caught.value)


def test_registration_report_403_points_at_auditlog_read_all(rsps, tenant):
    url = f"{GRAPH}/reports/authenticationMethods/userRegistrationDetails"
    _fail(rsps, tenant, url, 403, graph_error("Authorization_RequestDenied"), roles=["Reports.Read.All"])
    with pytest.raises(errors.PermissionDeniedError) as caught:
        list(make_client(tenant).registration_details())
    assert caught.value.missing_permission == "AuditLog.Read.All"


def test_registration_report_without_premium_licence(rsps, tenant):
    url = f"{GRAPH}/reports/authenticationMethods/userRegistrationDetails"
    _fail(rsps, tenant, url, 403, graph_error("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Tenant does not have a SPO license."))
    with pytest.raises(errors.LicenceRequiredError) as caught:
        list(make_client(tenant).registration_details())
    assert isinstance(caught.value, errors.PermissionDeniedError)
    assert "P1 or P2" in str(caught.value)


def test_error_access_denied_with_mail_read_granted_is_a_blocked_mailbox(rsps, tenant):
    url = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta"
    _fail(rsps, tenant, url, 403, graph_error("ErrorAccessDenied", "Access to OData is disabled."))
    with pytest.raises(errors.MailboxBlockedError) as caught:
        list(make_client(tenant).message_delta("jane@msp.example", "inbox"))
    assert isinstance(caught.value, errors.MailboxUnavailableError)


def test_error_access_denied_without_mail_read_is_a_missing_permission(rsps, tenant):
    url = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta"
    _fail(rsps, tenant, url, 403, graph_error("ErrorAccessDenied", "Access is denied."), roles=["User.Read.All"])
    with pytest.raises(errors.PermissionDeniedError) as caught:
        list(make_client(tenant).message_delta("jane@msp.example", "inbox"))
    assert not isinstance(caught.value, errors.MailboxBlockedError)
    assert caught.value.missing_permission == "Mail.Read"


@pytest.mark.parametrize(
    "status,code,cls",
    [
        (404, "MailboxNotEnabledForRESTAPI", errors.MailboxNotFoundError),
        (404, "ErrorInvalidUser", errors.MailboxNotFoundError),
        (404, "ErrorItemNotFound", errors.NotFoundError),
        (410, "Gone", errors.SyncStateExpiredError),
        (400, "syncStateNotFound", errors.SyncStateExpiredError),
        (400, "resyncRequired", errors.SyncStateExpiredError),
        (500, "generalException", errors.TransientError),
        (400, "BadRequest", errors.GraphError),
    ],
)
def test_graph_error_codes_map_to_typed_errors(rsps, tenant, status, code, cls):
    url = f"{GRAPH}/users/jane@msp.example/messages/M1"
    _fail(rsps, tenant, url, status, graph_error(code, request_id="rid-map"))
    with pytest.raises(cls) as caught:
        make_client(tenant).message_body("jane@msp.example", "M1")
    assert type(caught.value) is cls
    assert caught.value.request_id == "rid-map" and caught.value.client_request_id == "cli-456"
    assert "rid-map" in str(caught.value) and caught.value.kind == "message_body"


def test_unknown_upn_on_mailbox_get_is_a_missing_mailbox(rsps, tenant):
    _fail(rsps, tenant, f"{GRAPH}/users/jane@msp.example", 404, graph_error("Request_ResourceNotFound"))
    with pytest.raises(errors.MailboxNotFoundError):
        make_client(tenant).mailbox_get("jane@msp.example")


@pytest.mark.parametrize("body", ['{"value": [{"id": "o"}', "<html>proxy error</html>", "null", "[1, 2]"])
def test_truncated_or_non_json_bodies_are_malformed_responses(rsps, tenant, body):
    _fail(rsps, tenant, f"{GRAPH}/organization", 200, body)
    with pytest.raises(errors.MalformedResponseError):
        make_client(tenant).organization_get()


def test_error_without_graph_ids_keeps_our_client_request_id(rsps, tenant):
    _fail(rsps, tenant, f"{GRAPH}/organization", 400, "plain text")
    with pytest.raises(errors.GraphError) as caught:
        make_client(tenant).organization_get()
    sent = rsps.calls[-1].request.headers["client-request-id"]
    assert caught.value.client_request_id == sent and sent in str(caught.value)


def test_errors_survive_pickling_for_celery():
    error = errors.PermissionDeniedError(403, "Authorization_RequestDenied", "no", "rid", missing_permission="Mail.Read")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.missing_permission, copy.request_id, str(copy)) == (type(error), "Mail.Read", "rid", str(error))


# ------------------------------------------------------------------ $batch and directory


def _batch_callback(answers):
    """answers: user_id -> list of (status, headers, body) to give on each round."""

    def callback(request):
        payload = json.loads(request.body)
        assert len(payload["requests"]) <= 20
        responses_ = []
        for item in payload["requests"]:
            user_id = item["url"].split("/")[2]
            status, headers, body = answers[user_id].pop(0)
            responses_.append({"id": item["id"], "status": status, "headers": headers, "body": body})
        return 200, {"Content-Type": "application/json"}, json.dumps({"responses": list(reversed(responses_))})

    return callback


def test_auth_methods_batch_groups_by_20_retries_item_429_and_keeps_only_types(rsps, tenant):
    add_login(rsps, tenant)
    users = [f"user-{n:02d}" for n in range(25)]
    methods = {
        "value": [
            {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a", "phoneNumber": "+1 2065555555", "phoneType": "mobile"},
            {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "-2_G", "displayName": "Red key", "model": "NFC key"},
        ]
    }
    answers = {u: [(200, {}, methods)] for u in users}
    answers["user-03"] = [(429, {"Retry-After": "3"}, graph_error("TooManyRequests")), (200, {}, {"value": []})]
    answers["user-07"] = [(403, {}, graph_error("Authorization_RequestDenied", request_id="rid-7"))]
    rsps.add_callback(responses.POST, f"{GRAPH}/$batch", callback=_batch_callback(answers))
    sleeps = Sleeps()
    client = make_client(tenant, sleeps=sleeps)

    result = client.auth_methods_batch(users)

    assert set(result) == set(users)
    assert result["user-00"] == [
        {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod"},
        {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod"},
    ]
    assert "2065555555" not in json.dumps([v for v in result.values() if isinstance(v, list)])
    assert result["user-03"] == []
    assert isinstance(result["user-07"], errors.PermissionDeniedError) and result["user-07"].request_id == "rid-7"
    assert sleeps == [3.0]
    assert client.counters.requests["batch"] == 3  # 20 + 5, then the throttled item again
    assert client.counters.batch_items == 26
    assert client.counters.throttled == 1


@pytest.mark.parametrize("status,cls", [(429, errors.ThrottledError), (503, errors.TransientError)])
def test_auth_methods_batch_gives_up_on_a_persistently_throttled_item(rsps, tenant, status, cls):
    add_login(rsps, tenant)
    throttled = [(status, {"Retry-After": "2"}, graph_error("TooManyRequests", request_id="rid-b"))] * 10
    rsps.add_callback(responses.POST, f"{GRAPH}/$batch", callback=_batch_callback({"u1": throttled}))
    sleeps = Sleeps()
    result = make_client(tenant, sleeps=sleeps).auth_methods_batch(["u1"])
    assert type(result["u1"]) is cls and result["u1"].request_id == "rid-b"
    assert sleeps == [2.0, 2.0, 2.0]


def test_directory_roles_and_members(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/directoryRoles", json={"value": [{"id": "r1", "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10"}]})
    rsps.get(
        f"{GRAPH}/directoryRoles/r1/members",
        json={"value": [{"@odata.type": "#microsoft.graph.user", "id": "u1"}, {"@odata.type": "#microsoft.graph.group", "id": "g1"}]},
        match=[matchers.query_param_matcher({"$select": "id,displayName,userPrincipalName"})],
    )
    client = make_client(tenant)
    roles = client.directory_roles()
    members = [m for page in client.role_members(roles[0]["id"]) for m in page]
    assert [m["id"] for m in members] == ["u1", "g1"]
    assert client.counters.requests["directory_roles"] == 1
    assert client.counters.requests["role_members"] == 1


def test_counters_by_endpoint_kind(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", json={"value": [{"id": "o"}]})
    rsps.get(f"{GRAPH}/users/jane@msp.example", json={"id": JANE_ID})
    rsps.get(f"{GRAPH}/reports/authenticationMethods/userRegistrationDetails", json={"value": []})
    client = make_client(tenant)
    client.organization_get()
    client.mailbox_get("jane@msp.example")
    list(client.registration_details())
    assert client.counters.as_dict() == {
        "requests": {"token": 2, "organization": 1, "user": 1, "registration_report": 1},
        "total_requests": 5,
        "retries": 0,
        "throttled": 0,
        "throttled_wait_seconds": 0.0,
        "network_errors": 0,
        "token_refreshes": 0,
        "batch_items": 0,
    }


# ------------------------------------------------------------------ a real TLS socket


def _self_signed(tmp_path):
    """A throwaway CA-less certificate for 127.0.0.1, written as cert + key files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "sim.pem", tmp_path / "sim.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_server(tmp_path):
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cert, key = _self_signed(tmp_path)
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            seen.append(("GET", self.path))
            base = f"https://127.0.0.1:{self.server.server_port}"
            if self.path.endswith("/.well-known/openid-configuration"):
                tenant = self.path.split("/")[1]
                self._answer({"authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize", "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token"})
            else:
                self._answer({"value": [{"id": "org", "displayName": "Sim Tenant"}]})

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            seen.append(("POST", self.path, self.rfile.read(length).decode()))
            self._answer({"access_token": make_jwt({"roles": ["Directory.Read.All"]}), "token_type": "Bearer", "expires_in": 3599})

        def log_message(self, *args):  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_port}", cert, seen
    server.shutdown()
    server.server_close()


def test_real_tls_with_a_ca_bundle_despite_requests_ca_bundle_env(tls_server, tenant, monkeypatch, all_logs):
    base, cert, seen = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", requests.certs.where())  # the usual roots only: would fail if it won
    client = make_client(tenant, login_base_url=base, graph_base_url=f"{base}/v1.0", ca_bundle=cert)

    assert client.organization_get()["displayName"] == "Sim Tenant"

    assert [s[0] for s in seen] == ["GET", "POST", "GET"]
    assert "client_secret=" in seen[1][2]  # the secret did go on the wire, in the POST body
    assert any(r.name.startswith("urllib3") for r in all_logs.records)  # urllib3 logged at DEBUG...
    assert_secret_absent(all_logs.text)  # ...without the secret


def test_real_tls_without_the_bundle_fails_verification(tls_server, tenant, monkeypatch):
    base, _cert, seen = tls_server
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = make_client(tenant, login_base_url=base, graph_base_url=f"{base}/v1.0")
    with pytest.raises(errors.NetworkError) as caught:
        client.organization_get()
    assert_secret_absent(str(caught.value), repr(caught.value))
    assert not any(s[0] == "POST" for s in seen)  # the handshake failed before anything was sent
