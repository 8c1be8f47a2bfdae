"""Shared by the fault suite: small pages, and the checks every fault case ends with.

After any fault, a sync must leave
  * the stored set equal to the simulator's ground truth (SyncKit.assert_ground_truth),
  * no duplicate message, holder, event or participant,
  * no message or event body anywhere (no simulator body sentinel in any table or the cache),
  * a simulator request log in which every Graph request names an allowed
    mailbox and none asks for a body.
"""

import os
import re
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from customers.models import (
    Event,
    EventHolder,
    EventParticipant,
    Message,
    MessageHolder,
    MessageParticipant,
)
from graphsim import SENTINEL_PREFIX

from ..traces import all_cache_text, all_database_text
from .processes import WORKER_APPLICATION_NAME, CeleryBeat, CeleryWorker, worker_database_url

SMALL_PAGE = 5  # items a page: every folder takes several pages, so faults land mid-round

# Graph paths that fetch one item (and so its body, whatever $select says).
_ONE_ITEM = re.compile(r"/(messages|events)/(?!delta$)[^/]+(/\$value)?$", re.IGNORECASE)
_USER_SEGMENT = re.compile(r"^/v1\.0/users(?:/|\(')([^/'()]+)", re.IGNORECASE)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("integrations.mail.mail_sync.PAGE_SIZE", SMALL_PAGE)
    monkeypatch.setattr("integrations.mail.calendar_sync.PAGE_SIZE", SMALL_PAGE)


def assert_no_duplicates():
    def dupes(model, *fields):
        counts = Counter(model.objects.values_list(*fields))
        return {key: n for key, n in counts.items() if n > 1}

    # Identity, not the sender-chosen id: the hostile tenant reuses a Message-ID and an iCalUId on purpose.
    assert not dupes(Message, "identity")
    assert not dupes(MessageHolder, "mailbox", "graph_id")
    assert not dupes(MessageParticipant, "holder", "role", "address")
    assert not dupes(Event, "identity")
    assert not dupes(EventHolder, "mailbox", "graph_id")
    assert not dupes(EventParticipant, "holder", "role", "address")


def assert_no_body_stored():
    assert SENTINEL_PREFIX not in all_database_text(), "a body sentinel reached the database"
    assert SENTINEL_PREFIX not in all_cache_text(), "a body sentinel reached the cache"


def assert_requests_on_list_and_bodiless(requests, tenant, allowed):
    """Every Graph request names an allowed mailbox (by UPN or resolved id) and none asks for a body."""
    allowed = {upn.lower() for upn in allowed}
    graph = [r for r in requests if r["path"].lower().startswith("/v1.0/")]
    assert graph, "no Graph request at all: the check would prove nothing"
    for r in graph:
        path = r["path"]
        if path.rstrip("/").lower() == "/v1.0/$batch":
            continue  # its inner requests are logged on their own (via_batch) and checked here too
        named = _USER_SEGMENT.match(path)
        assert named, f"a Graph request that names no mailbox: {r['method']} {path}"
        user = tenant.user(named.group(1))
        assert user is not None and user.upn.lower() in allowed, f"off-list mailbox requested: {path}"
        selected = {field.strip().lower() for field in (r["query"].get("$select") or "").split(",")}
        assert not selected & {"body", "uniquebody"}, f"a body was asked for: {path} $select={r['query'].get('$select')}"
        assert not _ONE_ITEM.search(path), f"a single item (with its body) was fetched: {r['method']} {path}"


def assert_clean_outcome(kit, *, mailboxes=None):
    """The fault suite's closing checks, for all mailboxes (or those given)."""
    kit.assert_ground_truth(mailboxes=mailboxes)
    assert_no_duplicates()
    assert_no_body_stored()
    assert_requests_on_list_and_bodiless(kit.sim.requests, kit.tenant, kit.mailboxes())


def sync_until_settled(kit, *, client_factory, rounds=4):
    """Run every mailbox's sync; a mailbox whose run failed is run again, as
    the next scheduled run would, up to `rounds` runs in all. Returns the
    outcomes per round: [{upn: outcome}, ...]."""
    history, pending = [], kit.mailboxes()
    for _ in range(rounds):
        client = client_factory()
        try:
            outcomes = {s["mailbox"]: s["outcome"] for s in kit.sync(pending, client=client)}
        finally:
            client.close()
        history.append(outcomes)
        pending = [upn for upn, outcome in outcomes.items() if outcome != "success"]
        if not pending:
            return history
    raise AssertionError(f"still failing after {rounds} runs: {history}")


# ---------------------------------------------------------------- real worker processes


@pytest.fixture
def broker_and_shared_database():
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: real workers take tasks from Redis")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker processes must open the test database")


@pytest.fixture
def celery_workers(broker_and_shared_database, sync_kit, request):
    """start(name, concurrency=1, **extra_env) -> a running CeleryWorker on this run's own queue;
    start.beat(name, schedule_path, **extra_env) -> a CeleryBeat sending to that queue.
    Every process is stopped at the end. The environment is this process's (REDIS_URL: the
    caller's own Redis database) plus the test database and the simulator."""
    from vectis.celery import app

    queue = f"vectis-faults-{uuid.uuid4().hex[:12]}"
    running = sync_kit.running
    log_dir = Path(os.environ.get("VECTIS_TEST_ARTIFACTS") or Path(settings.BASE_DIR) / "test-artifacts") / "faults" / request.node.name
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": worker_database_url(),
        "VECTIS_GRAPH_BASE_URL": running.graph_base_url,
        "VECTIS_LOGIN_BASE_URL": running.login_base_url,
        "VECTIS_GRAPH_CA_BUNDLE": running.ca_path,
        "VECTIS_TEST_PAGE_SIZE": str(SMALL_PAGE),
        "VECTIS_TEST_QUEUE": queue,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    processes = []

    def start(name, concurrency=1, **extra_env):
        worker = CeleryWorker(name, queue, {**env, **extra_env}, log_dir, concurrency=concurrency)
        processes.append(worker)
        worker.wait_ready()
        return worker

    def beat(name, schedule_path, **extra_env):
        process = CeleryBeat(name, {**env, **extra_env}, log_dir, schedule_path)
        processes.append(process)
        return process

    timeline = log_dir / "timeline.txt"
    timeline.write_text("")

    def note(text):
        """A line in the run's timeline (with the simulator's requests, written at the end): for reading a failure."""
        with timeline.open("a") as f:
            f.write(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} {text}\n")

    start.queue = queue
    start.workers = processes
    start.note = note
    start.beat = beat
    start.log_dir = log_dir
    yield start
    for process in processes:
        process.stop()
    with timeline.open("a") as f:
        f.writelines(f"{r['time'][11:23]} simulator {r['method']} {r['path']} {r['status']} {r['note'] or ''}\n"
                     for r in running.simulator.requests)
    with app.connection_for_write() as conn:  # nothing of this run is left in the broker
        client = conn.default_channel.client
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    close_worker_sessions(note)


def close_worker_sessions(note, timeout=5):
    """The workers are gone; so must their database sessions be, or the test database cannot be
    dropped at the end of the run. A killed process's session ends when PostgreSQL notices; don't wait long."""
    others = ("SELECT pid, client_port, state, backend_start, state_change, left(query, 80) FROM pg_stat_activity "
              "WHERE datname = current_database() AND application_name = %s")
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(others, [WORKER_APPLICATION_NAME])
            rows = cursor.fetchall()
            pids = [row[0] for row in rows]
            if not pids:
                return
            if time.monotonic() > deadline:
                note(f"terminating leftover database sessions: {rows}")
                for pid in pids:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
                return
            time.sleep(0.2)
