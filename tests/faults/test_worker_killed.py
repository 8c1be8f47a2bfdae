"""A worker killed mid-run, with real Celery workers on Redis.

The test process serves the Graph simulator (in a thread) and owns the test
database; the workers are separate `celery worker` processes pointed at both
(the test database by DATABASE_URL, the simulator by VECTIS_GRAPH_BASE_URL,
VECTIS_LOGIN_BASE_URL and VECTIS_GRAPH_CA_BUNDLE). Tasks go to a queue named
for this run only, so stale messages in a shared Redis cannot interfere.

Graph answers each delta page slowly, so the run is mid-way when, after
three pages of the first mailbox have committed, a worker is SIGKILLed:

pool-process
    the prefork pool process running the task (what the kernel's OOM killer
    does). The worker's parent notices the death within seconds:
    acks_late + reject_on_worker_lost put the message back on the queue, and
    the parent forks a new pool process, which receives it. The dead run still
    holds the mailbox's claim, so the redelivered task retries once the claim
    has gone stale (the fix in integrations/tasks.py; before it, the rerun
    was recorded as "skipped" and dropped) and replays the mailbox.
whole-worker
    the worker's whole process group (a crashed host or container). Nobody is
    left to reject the message: it stays unacknowledged in Redis until its
    visibility timeout runs out (1 hour in production; a few seconds for
    these workers), and a new worker, started after the kill, runs it.

Either way the run ends with the stored set equal to the simulator's ground
truth, no duplicates, no body stored and no off-list request. The claim
goes stale after VECTIS_SYNC_CLAIM_STALE_SECONDS (15 minutes in production;
a few seconds here).

Needs REDIS_URL (skipped without it; CI sets it) and PostgreSQL: a worker
process cannot open SQLite's in-memory test database.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.db import connection

from customers.models import MessageHolder
from integrations.models import MailboxState, SyncRun
from integrations.tasks import sync_mailbox

from .conftest import SMALL_PAGE, assert_clean_outcome

pytestmark = [pytest.mark.real_worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# VECTIS_SYNC_CLAIM_STALE_SECONDS for the workers. Killing a pool process: longer than the
# worker's parent takes to notice the death and redeliver (up to ~4 s seen), so the
# redelivered task always meets the dead run's claim. Killing the whole worker: below
# VISIBILITY_SECONDS, so the claim is stale when Redis gives the message to the new worker.
STALE_SECONDS = {"pool-process": 8, "whole-worker": 3}
VISIBILITY_SECONDS = 5  # the new worker's Redis visibility timeout (whole-worker case)
SLOW_PAGE_SECONDS = 0.3  # each delta page while the kill is pending


@pytest.fixture
def broker_and_shared_database():
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs REDIS_URL: real workers take tasks from Redis")
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker processes must open the test database")


WORKER_APPLICATION_NAME = "vectis-fault-worker"  # how the workers' database sessions are told apart


def worker_database_url():
    """DATABASE_URL of the database this test runs on (pytest-django's test_<name>)."""
    s = connection.settings_dict
    auth = ""
    if s["USER"]:
        auth = quote(s["USER"], safe="") + (":" + quote(s["PASSWORD"], safe="") if s["PASSWORD"] else "") + "@"
    port = f":{s['PORT']}" if s["PORT"] else ""
    options = urlencode({**(s.get("OPTIONS") or {}), "application_name": WORKER_APPLICATION_NAME})
    return f"postgres://{auth}{s['HOST'] or 'localhost'}{port}/{quote(s['NAME'], safe='')}?{options}"


class CeleryWorker:
    """`celery worker --pool prefork --concurrency 1` in its own process group, logging to a file."""

    def __init__(self, name, queue, env, log_dir):
        self.name = name
        self.log_path = log_dir / f"worker-{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - the worker writes to it until stop() closes it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.faults.worker_app", "worker", "--pool", "prefork",
             "--concurrency", "1", "-Q", queue, "-n", f"{queue}-{name}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "--loglevel", "INFO"],
            cwd=settings.BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout=60):
        wait_for(f"worker {self.name} to start", lambda: " ready." in self.log() or self.process.poll() is not None,
                 timeout, [self])
        assert self.process.poll() is None, f"worker {self.name} exited:\n{self.log()}"

    def pool_processes(self):
        """Pids of the prefork pool processes (children of the worker's main process)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def kill_pool_process(self):
        [pid] = self.pool_processes()
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_everything(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown: unacked messages go back to Redis
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # pool processes left behind, if any
        except ProcessLookupError:
            pass
        self._log.close()


def wait_for(what, predicate, timeout, workers=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    logs = "\n".join(f"--- worker {w.name} ---\n{w.log()[-6000:]}" for w in workers)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


@pytest.fixture
def celery_workers(broker_and_shared_database, sync_kit, request):
    """start(name, **extra_env) -> a running CeleryWorker on this run's own queue; all stopped at the end."""
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
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    workers = []

    def start(name, **extra_env):
        worker = CeleryWorker(name, queue, {**env, **extra_env}, log_dir)
        workers.append(worker)
        worker.wait_ready()
        return worker

    timeline = log_dir / "timeline.txt"
    timeline.write_text("")

    def note(text):
        """A line in the run's timeline (with the simulator's requests, written at the end): for reading a failure."""
        with timeline.open("a") as f:
            f.write(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} {text}\n")

    start.queue = queue
    start.workers = workers
    start.note = note
    yield start
    for worker in workers:
        worker.stop()
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


@pytest.mark.parametrize("kill", ["pool-process", "whole-worker"])
def test_worker_killed_mid_run_is_restarted_and_the_sync_completes(kill, sync_kit, celery_workers):
    kit = sync_kit
    mailboxes = kit.mailboxes()
    first = mailboxes[0]
    kit.sim.faults.set("slow", path="/messages/delta", delay=SLOW_PAGE_SECONDS)
    stale = {"VECTIS_SYNC_CLAIM_STALE_SECONDS": str(STALE_SECONDS[kill])}
    worker = celery_workers("first", **stale)

    # What "Sync now" does, on this run's queue.
    tasks = {upn: sync_mailbox.apply_async(args=[upn], kwargs={"reason": "manual"}, queue=celery_workers.queue).id
             for upn in mailboxes}

    # Three pages of the first mailbox's inbox are committed, and the run is still paging.
    wait_for("three committed pages", lambda: SyncRun.objects.filter(
        mailbox=first, folder="inbox", outcome="running", seen__gte=3 * SMALL_PAGE).exists(), 60, [worker])
    celery_workers.note(f"3 pages seen; claim {MailboxState.objects.get(upn=first).running_since}")
    if kill == "pool-process":
        celery_workers.note(f"killing pool process {worker.kill_pool_process()}")
    else:
        worker.kill_everything()
        celery_workers.note("killed the whole worker")
    kit.sim.faults.clear("slow")
    committed = MessageHolder.objects.filter(mailbox=first).count()
    assert 0 < committed < len(kit.message_truth(mailboxes=[first]))
    assert MailboxState.objects.get(upn=first).running_since is not None  # the dead run's claim
    if kill == "whole-worker":
        worker = celery_workers("second", VECTIS_TEST_VISIBILITY_TIMEOUT=str(VISIBILITY_SECONDS), **stale)

    def all_synced():
        states = MailboxState.objects.filter(upn__in=mailboxes)
        return len(states) == len(mailboxes) and all(s.last_success_at and not s.running_since for s in states)

    wait_for("every mailbox to finish", all_synced, 45, celery_workers.workers)
    for w in celery_workers.workers:
        w.stop()

    assert_clean_outcome(kit)
    # The killed run is on record as interrupted, and the replay succeeded from scratch (its delta link was never stored).
    inbox = SyncRun.objects.filter(mailbox=first, folder="inbox").order_by("started_at", "id")
    assert [run.outcome for run in inbox] == ["failed", "success"], list(inbox.values("outcome", "error"))
    assert inbox[0].error == "Interrupted: the worker stopped mid-run." and inbox[0].seen >= 3 * SMALL_PAGE
    assert inbox[1].seen >= inbox[0].seen and inbox[1].kept == MessageHolder.objects.filter(mailbox=first, folder="inbox").count()
    assert not SyncRun.objects.exclude(mailbox=first).exclude(outcome="success").exists()
    # The same task (message) finished the job: redelivered, not enqueued again by anyone.
    killed = tasks[first]
    log = celery_workers.workers[-1].log()
    assert f"{killed}] succeeded" in log, log[-4000:]
    if kill == "pool-process":
        # The parent saw its pool process die and gave the message back; the redelivery found the
        # dead run's claim, recorded a skipped run and retried once the claim had gone stale.
        assert "WorkerLostError" in log and f"{killed}] retry: Retry in" in log, log[-4000:]
        assert SyncRun.objects.filter(mailbox=first, outcome="skipped").count() == 1
    else:
        assert f"{killed}] succeeded" not in celery_workers.workers[0].log()  # the first worker never finished it
