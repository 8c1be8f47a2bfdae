"""Every task that claims work recovers like mailbox sync, with real processes:
Celery workers and beat on Redis, the test database on PostgreSQL, the Graph
simulator in this process (tests/faults/processes.py).

posture collection, worker SIGKILLed mid-run
    pool-process: the parent rejects the message (acks_late +
    reject_on_worker_lost), the redelivery meets the dead run's claim, records a
    skipped run and retries once the claim is stale. whole-worker: the message
    comes back after Redis's visibility timeout to a new worker. Either way the
    new run takes over, closes the dead run as interrupted and ends with the
    same directory users and day snapshots as an uninterrupted collection,
    within the stale time plus one run.
broker restart
    a private redis-server (never the shared one), run as docker-compose runs
    it (nothing on disk), killed and started again mid-collection: the running
    collection finishes (CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS
    is off), the worker reconnects and takes the next task.
beat restart
    beat SIGKILLed just after sending a due task and started again on the same
    schedule file does not send it again (CELERY_BEAT_SYNC_EVERY=1); and two
    collections queued at once (what a resend would be) run once: the second is
    skipped by the claim, the day's snapshot is written once.

Stale times are seconds here (VECTIS_SYNC_CLAIM_STALE_SECONDS; 15 minutes in production).
Needs REDIS_URL and PostgreSQL (skipped otherwise; CI sets both).
"""

import time

import pytest
from django.utils import timezone

from integrations.mail.models import SyncRun
from integrations.posture.posture_sync import posture_collect
from integrations.setup.claims import INTERRUPTED_ERROR
from integrations.setup.connection import connection_get
from integrations.tasks import sync_mailbox, sync_posture
from security.models import DirectoryUser, PostureRun, PostureSnapshot
from vectis.celery import app

from .processes import PrivateRedis, wait_for

pytestmark = [pytest.mark.real_worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# As in test_worker_killed.py: pool-process stale time above the parent's redelivery delay;
# whole-worker stale time below the new worker's visibility timeout.
STALE_SECONDS = {"pool-process": 8, "whole-worker": 3}
VISIBILITY_SECONDS = 5
SLOW_REQUEST_SECONDS = 1.0  # each posture request while the fault is pending
SLACK_SECONDS = 15  # a worker's start-up and the broker's redelivery on a busy 2-core machine


def slow_posture(sim):
    """No registration report, so MFA comes from per-user $batch requests; every posture request is slow."""
    sim.faults.set("unlicensed_report")
    sim.faults.set("slow", path=r"^/v1\.0/(users$|directoryRoles|\$batch)", delay=SLOW_REQUEST_SECONDS)


def batches_answered(sim):
    return sum(1 for r in sim.requests if r["path"].rstrip("/").lower() == "/v1.0/$batch")


def mid_collection(sim):
    return PostureRun.objects.filter(outcome="running").exists() and batches_answered(sim) >= 1


def posture_state():
    """What the collection leaves: the directory users and each customer's day snapshot (figures and population)."""
    users = sorted(DirectoryUser.objects.values_list(
        "graph_id", "customer_id", "mfa_registered", "method_types", "privileged_roles", "account_enabled"))
    snapshots = {(s.customer_id, s.taken_on): (s.metrics, s.users) for s in PostureSnapshot.objects.all()}
    return users, snapshots


def assert_one_snapshot_per_customer_day(run):
    days = list(PostureSnapshot.objects.values_list("customer_id", "taken_on"))
    assert days and len(days) == len(set(days))
    assert {s.provenance["posture_run_id"] for s in PostureSnapshot.objects.all()} == {run.pk}  # written by the survivor only


def assert_same_as_an_uninterrupted_collection(kit):
    """Collect again, in this process, without the slow pages (the tenant still has no report licence):
    the same data, and still one snapshot per customer and day."""
    recovered = posture_state()
    kit.sim.faults.clear("slow")
    again = posture_collect(connection=connection_get())
    assert again.outcome == "success", again.error
    assert posture_state() == recovered


@pytest.mark.parametrize("kill", ["pool-process", "whole-worker"])
def test_worker_killed_mid_posture_collection_is_taken_over_and_finishes(kill, sync_kit, celery_workers):
    kit = sync_kit
    slow_posture(kit.sim)
    stale = {"VECTIS_SYNC_CLAIM_STALE_SECONDS": str(STALE_SECONDS[kill])}
    worker = celery_workers("first", **stale)

    task = sync_posture.apply_async(queue=celery_workers.queue).id  # what the daily schedule does
    wait_for("the collection to be mid-way", lambda: mid_collection(kit.sim), 60, [worker])
    killed_at = timezone.now()
    dead = PostureRun.objects.get(outcome="running")
    if kill == "pool-process":
        celery_workers.note(f"killing pool process {worker.kill_pool_process()}")
    else:
        worker.kill_everything()
        celery_workers.note("killed the whole worker")
    kit.sim.faults.clear("slow")
    assert not PostureSnapshot.objects.exists()  # the dead run wrote nothing (it writes once, at the end)
    if kill == "whole-worker":
        worker = celery_workers("second", VECTIS_TEST_VISIBILITY_TIMEOUT=str(VISIBILITY_SECONDS), **stale)

    survivor = wait_for("the collection to finish", lambda: PostureRun.objects.filter(outcome="success").first(),
                        60, celery_workers.workers)
    # The same message finished the job: redelivered, not enqueued again by anyone.
    wait_for("the task to end", lambda: f"{task}] succeeded" in celery_workers.workers[-1].log(), 30,
             celery_workers.workers)
    for w in celery_workers.workers:
        w.stop()

    history = [(run.outcome, run.error) for run in PostureRun.objects.order_by("started_at", "id")]
    outcomes = [outcome for outcome, _ in history]
    if kill == "pool-process":
        assert outcomes == ["interrupted", "skipped", "success"], history
    else:
        # Redis hands the message back a visibility timeout after it was first delivered, which may
        # come before the dead run's claim is stale (it heartbeat until the kill): then the
        # redelivery is skipped once and retries when the claim is stale.
        assert outcomes in (["interrupted", "success"], ["interrupted", "skipped", "success"]), history
    dead.refresh_from_db()
    assert dead.outcome == "interrupted" and dead.error == INTERRUPTED_ERROR and dead.finished_at
    assert not PostureRun.objects.filter(outcome__in=["running", "failed"]).exists()
    one_run = (survivor.finished_at - survivor.started_at).total_seconds()
    took = (survivor.finished_at - killed_at).total_seconds()
    limit = STALE_SECONDS[kill] + (VISIBILITY_SECONDS if kill == "whole-worker" else 0) + one_run + SLACK_SECONDS
    celery_workers.note(f"recovered {took:.1f}s after the kill (one run {one_run:.1f}s, limit {limit:.1f}s)")
    assert took <= limit
    log = celery_workers.workers[-1].log()
    if kill == "pool-process":
        assert "WorkerLostError" in log and f"{task}] retry: Retry in" in log, log[-4000:]
    assert_one_snapshot_per_customer_day(survivor)
    assert_same_as_an_uninterrupted_collection(kit)


@pytest.fixture
def private_redis(celery_workers):
    """Requested before the workers start and stopped after they stop (fixture order)."""
    redis = PrivateRedis(celery_workers.log_dir / "redis")
    redis.start()
    yield redis
    redis.stop()


def send(task, broker_url, queue, **options):
    with app.connection_for_write(broker_url) as conn:
        return task.apply_async(queue=queue, connection=conn, **options).id


def test_broker_restarted_mid_collection_loses_nothing(sync_kit, celery_workers, private_redis):
    kit = sync_kit
    slow_posture(kit.sim)
    worker = celery_workers("first", REDIS_URL=private_redis.url, VECTIS_SYNC_CLAIM_STALE_SECONDS="3")

    send(sync_posture, private_redis.url, celery_workers.queue)
    wait_for("the collection to be mid-way", lambda: mid_collection(kit.sim), 60, [worker])
    private_redis.restart()  # empty again: Redis keeps nothing on disk
    celery_workers.note("restarted the private redis-server")
    kit.sim.faults.clear("slow")

    survivor = wait_for("the collection to finish", lambda: PostureRun.objects.filter(outcome="success").first(),
                        60, [worker, private_redis])
    assert [r.outcome for r in PostureRun.objects.all()] == ["success"]
    # The worker reconnected to the new broker and takes the next task.
    jane = kit.mailboxes()[0]
    send(sync_mailbox, private_redis.url, celery_workers.queue, args=[jane], kwargs={"reason": "manual"})
    wait_for("a mail sync after the restart", lambda: SyncRun.objects.filter(
        mailbox=jane, folder="calendar", outcome="success").exists(), 60, [worker, private_redis])
    worker.stop()

    assert not SyncRun.objects.exclude(outcome="success").exists()
    assert_one_snapshot_per_customer_day(survivor)
    assert_same_as_an_uninterrupted_collection(kit)


BEAT_EVERY_SECONDS = 10


def test_beat_restarted_sends_nothing_twice_and_duplicates_run_once(sync_kit, celery_workers):
    kit = sync_kit
    worker = celery_workers("first", concurrency=2)
    schedule = celery_workers.log_dir / "celerybeat-schedule"
    for stale in schedule.parent.glob(schedule.name + "*"):
        stale.unlink()
    beat = celery_workers.beat("first", schedule, VECTIS_TEST_BEAT_EVERY=str(BEAT_EVERY_SECONDS))

    wait_for("beat to send the collection", lambda: beat.sent() >= 1, 3 * BEAT_EVERY_SECONDS, [beat])
    sent_at = time.monotonic()
    time.sleep(0.5)
    beat.kill_everything()  # a crashed beat container, its schedule file kept
    celery_workers.note("killed beat just after it sent")
    restarted = celery_workers.beat("second", schedule, VECTIS_TEST_BEAT_EVERY=str(BEAT_EVERY_SECONDS))
    wait_for("the restarted beat to send", lambda: restarted.sent() >= 1, 3 * BEAT_EVERY_SECONDS, [restarted])
    resent_after = time.monotonic() - sent_at
    celery_workers.note(f"the restarted beat sent {resent_after:.1f}s after the first")
    # On schedule, not at once on start-up (without CELERY_BEAT_SYNC_EVERY=1 the schedule file still
    # said "never sent" and the restarted beat sent the same due task again within a second or two).
    assert resent_after >= 0.75 * BEAT_EVERY_SECONDS, restarted.log()[-3000:]

    wait_for("beat's collections to finish", lambda: PostureRun.objects.filter(outcome="success").count() >= 2
             and not PostureRun.objects.filter(outcome="running").exists(), 60, [worker, restarted])
    restarted.stop()  # (the log line comes just before the send: stopping beat sooner could cut it off)

    # A duplicate send (two at once, as a beat double-send or a beat send plus "Sync now" would be):
    # the claim lets one collect; the other is stored as skipped, not failed; one snapshot per day.
    PostureRun.objects.all().delete()
    slow_posture(kit.sim)
    for _ in range(2):
        sync_posture.apply_async(queue=celery_workers.queue)
    wait_for("both to be handled", lambda: PostureRun.objects.exclude(outcome="running").count() == 2, 60, [worker])
    worker.stop()
    assert sorted(PostureRun.objects.values_list("outcome", flat=True)) == ["skipped", "success"]
    assert_one_snapshot_per_customer_day(PostureRun.objects.get(outcome="success"))
