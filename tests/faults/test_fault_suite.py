"""The fault suite: a full sync of every technician mailbox while the Graph
simulator misbehaves, one fault at a time, five items a page so each fault
lands mid-round. Every case ends with the checks in conftest.py: the stored
set equals the simulator's ground truth, no duplicates, no body stored, and
no Graph request for an off-list mailbox or for a body.

How each fault is absorbed:
  * 429 / 503 with Retry-After, connection resets, read timeouts and a token
    expiring mid-run are retried inside the request: the run succeeds first time.
  * A truncated JSON page fails that mailbox's run (the page is lost, the
    delta link is not advanced); the next run replays it.
  * An expired delta state (410 syncStateNotFound) restarts the folder from
    scratch within the same run.
A worker process killed mid-run is in test_worker_killed.py (real Celery worker on Redis).

Waits are recorded, not slept (the client's sleep is a list.append), so the
suite runs in seconds; only the slow-response case spends real time, in
read timeouts kept short.
"""

import time
from datetime import timedelta

import pytest

from integrations.mail.models import SyncRun
from integrations.setup.connection import connection_get, graph_client_for
from integrations.setup.models import MailboxState

from .conftest import assert_clean_outcome, sync_until_settled

pytestmark = pytest.mark.usefixtures("small_pages")


def graph_log(kit, *, status=None, note=None):
    return [r for r in kit.sim.requests if r["path"].startswith("/v1.0/")
            and (status is None or r["status"] == status) and (note is None or r["note"] == note)]


def clients(kit, **overrides):
    """A client factory for sync_until_settled that keeps every client it made (for their counters)."""
    made = []

    def factory():
        made.append(graph_client_for(connection_get(), **overrides))
        return made[-1]

    factory.made = made
    return factory


def total(made, counter):
    return sum(getattr(client.counters, counter) for client in made)


@pytest.mark.parametrize("storm", [
    pytest.param({"every": 2, "retry_after": 3}, id="every-other-request"),
    pytest.param({"count": 4, "retry_after": 2}, id="four-in-a-row"),  # the retry budget for one request, exactly
])
def test_429_storm_with_retry_after(sync_kit, storm):
    sync_kit.sim.faults.set("throttle", **storm)
    sleeps = []
    make = clients(sync_kit, sleep=sleeps.append)

    history = sync_until_settled(sync_kit, client_factory=make, rounds=1)

    throttled = graph_log(sync_kit, status=429)
    assert len(throttled) >= (4 if "count" in storm else 20)
    assert sleeps == [storm["retry_after"]] * len(throttled)  # each 429 waited out for exactly its Retry-After
    assert sum(SyncRun.objects.values_list("throttled_seconds", flat=True)) == pytest.approx(sum(sleeps))
    assert history == [dict.fromkeys(sync_kit.mailboxes(), "success")]
    assert_clean_outcome(sync_kit)


def test_503_service_unavailable(sync_kit):
    sync_kit.sim.faults.set("unavailable", every=3, retry_after=1)
    sleeps = []
    make = clients(sync_kit, sleep=sleeps.append)

    sync_until_settled(sync_kit, client_factory=make, rounds=1)

    unavailable = graph_log(sync_kit, status=503)
    assert len(unavailable) >= 10 and sleeps == [1] * len(unavailable)
    assert sum(SyncRun.objects.values_list("retries", flat=True)) == len(unavailable)
    assert_clean_outcome(sync_kit)


def test_connection_resets(sync_kit):
    sync_kit.sim.faults.set("connection_reset", every=3)
    make = clients(sync_kit, sleep=lambda seconds: None)

    sync_until_settled(sync_kit, client_factory=make, rounds=1)

    resets = graph_log(sync_kit, note="connection_reset")
    assert len(resets) >= 10
    assert total(make.made, "network_errors") == len(resets)
    assert_clean_outcome(sync_kit)


def test_slow_responses_become_read_timeouts_and_are_retried(sync_kit):
    # Every fifth Graph request answers after 1 s; the client gives up reading after 0.3 s and asks again.
    sync_kit.sim.faults.set("slow", every=5, delay=1.0)
    make = clients(sync_kit, sleep=lambda seconds: None, timeout=(2.0, 0.3))

    sync_until_settled(sync_kit, client_factory=make, rounds=1)
    # Let the abandoned answers finish: the simulator logs a request once it has answered it (and a
    # late answer must not land in the next test's log, or meet its faults).
    time.sleep(1.2)

    slow_hits = len(graph_log(sync_kit)) // 5
    assert slow_hits >= 5
    assert total(make.made, "network_errors") >= slow_hits  # each slow answer was given up on, and asked again
    assert_clean_outcome(sync_kit)


def test_truncated_json_loses_the_page_and_the_next_run_replays_it(sync_kit):
    sync_kit.sim.faults.set("truncated_json", every=4, count=3)
    make = clients(sync_kit, sleep=lambda seconds: None)

    history = sync_until_settled(sync_kit, client_factory=make, rounds=4)

    assert len(graph_log(sync_kit, note="truncated_json")) == 3
    assert "failed" in history[0].values() and len(history) >= 2  # a lost page fails the run ...
    assert all(outcome == "success" for outcome in history[-1].values())  # ... and a later run completes it
    failed = SyncRun.objects.filter(outcome="failed")
    assert failed.count() == 3 and all("not a complete JSON object" in run.error for run in failed), [r.error for r in failed]
    assert_clean_outcome(sync_kit)


def test_token_expiring_mid_run_is_refreshed_once(sync_kit):
    make = clients(sync_kit, sleep=lambda seconds: None)
    graph_requests = []

    def expire_tokens_at_the_seventh_graph_request(client):
        send = client.session.request

        def request(method, url, **kwargs):
            if url.startswith(client.graph_base_url):
                graph_requests.append(url)
                if len(graph_requests) == 7:  # mid-way through the first mailbox's inbox pages
                    sync_kit.sim.faults.set("token_expired")  # every token issued until now answers 401
            return send(method, url, **kwargs)

        client.session.request = request
        return client

    sync_until_settled(sync_kit, client_factory=lambda: expire_tokens_at_the_seventh_graph_request(make()), rounds=1)

    rejected = graph_log(sync_kit, status=401)
    assert len(rejected) == 1  # the one request that met the expired token ...
    assert total(make.made, "token_refreshes") == 1  # ... dropped it; the new token served the rest
    log = sync_kit.sim.requests
    at = next(i for i, r in enumerate(log) if r["status"] == 401)
    assert any("/oauth2/v2.0/token" in r["path"] for r in log[at:]), "no new token was requested after the 401"
    assert_clean_outcome(sync_kit)


def test_expired_delta_state_restarts_each_folder_without_duplicates(sync_kit):
    sync_kit.sync()  # the first run stores a delta link per folder
    assert all(s.inbox_delta_link and s.sentitems_delta_link for s in MailboxState.objects.all())
    # While the delta state is lost, mail arrives and stored mail is deleted: only a from-scratch round sees both.
    contact = next(u for u in sync_kit.tenant.users if u.kind == "customer").upn
    stored = sync_kit.stored_messages()
    for upn in sync_kit.mailboxes():
        sync_kit.tenant.add_message(upn, "inbox", from_=contact, subject=f"After the gap, {upn}")
        victim = next(r for r in sync_kit.tenant.messages(upn, "inbox") if (upn, r.id, r.graph["internetMessageId"]) in stored)
        sync_kit.tenant.remove_message(upn, "inbox", victim.id)
    sync_kit.sim.clear_requests()
    sync_kit.sim.faults.set("delta_expired")
    first_run = set(SyncRun.objects.values_list("pk", flat=True))

    sync_until_settled(sync_kit, client_factory=clients(sync_kit, sleep=lambda seconds: None), rounds=1)

    assert len(graph_log(sync_kit, status=410)) == 2 * len(sync_kit.mailboxes())  # inbox and sent items of each
    restarted = SyncRun.objects.exclude(pk__in=first_run).exclude(folder="calendar")
    assert restarted.count() == 2 * len(sync_kit.mailboxes())
    assert all(run.outcome == "success" and run.full for run in restarted)
    assert sum(run.removed for run in restarted) >= len(sync_kit.mailboxes())
    assert_clean_outcome(sync_kit)


def test_a_redelivered_sync_meeting_a_dead_runs_claim_comes_back_when_the_claim_is_stale(sync_kit, monkeypatch):
    """The worker-killed case without a worker (test_worker_killed.py runs it for real): the broker
    redelivers at once, while the dead run's claim still looks alive."""
    from celery.exceptions import Retry
    from django.utils import timezone

    from integrations.setup.claims import claim_stale_after
    from integrations.tasks import sync_mailbox

    jane = sync_kit.mailboxes()[0]
    MailboxState.objects.create(upn=jane, running_since=timezone.now() - timedelta(seconds=100))  # the dead run
    retries = []

    def retry(**options):
        retries.append(options)
        return Retry()

    monkeypatch.setattr(sync_mailbox, "retry", retry)
    for redelivered in (False, True):
        sync_mailbox.push_request(delivery_info={"redelivered": redelivered})
        try:
            if redelivered:
                with pytest.raises(Retry):
                    sync_mailbox.run(jane, reason="manual")
            else:
                sync_mailbox.run(jane, reason="manual")  # a second request while a run is going: skipped, done
        finally:
            sync_mailbox.pop_request()

    assert SyncRun.objects.filter(mailbox=jane, outcome="skipped").count() == 2
    [options] = retries
    assert options["countdown"] == pytest.approx(claim_stale_after().total_seconds() - 100 + 1, abs=2)
    assert sync_kit.sim.requests == []  # nothing was read while the claim was held
