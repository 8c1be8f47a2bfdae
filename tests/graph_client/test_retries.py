"""Graph client: retries."""


import pytest
import requests
import responses

from integrations.graph import errors
from integrations.graph.client import GraphClient
from integrations.graph.transport import RetryPolicy

from .kit import GRAPH, LOGIN, Provider, Sleeps, add_discovery, add_login, add_token, graph_error, make_client


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
