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

import pytest

from customers.models import MessageHolder
from integrations.mail.models import SyncRun
from integrations.setup.claims import INTERRUPTED_ERROR
from integrations.setup.models import MailboxState
from integrations.tasks import sync_mailbox

from .conftest import SMALL_PAGE, assert_clean_outcome
from .processes import wait_for

pytestmark = [pytest.mark.real_worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# VECTIS_SYNC_CLAIM_STALE_SECONDS for the workers. Killing a pool process: longer than the
# worker's parent takes to notice the death and redeliver (up to ~4 s seen), so the
# redelivered task always meets the dead run's claim. Killing the whole worker: below
# VISIBILITY_SECONDS, so the claim is stale when Redis gives the message to the new worker.
STALE_SECONDS = {"pool-process": 8, "whole-worker": 3}
VISIBILITY_SECONDS = 5  # the new worker's Redis visibility timeout (whole-worker case)
SLOW_PAGE_SECONDS = 0.3  # each delta page while the kill is pending


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
    # The task ends a moment after its mailbox's state says so: stopping the worker sooner could cut it off.
    wait_for("the killed task to end", lambda: f"{tasks[first]}] succeeded" in celery_workers.workers[-1].log(), 30,
             celery_workers.workers)
    for w in celery_workers.workers:
        w.stop()

    assert_clean_outcome(kit)
    # The killed run is on record as interrupted, and the replay succeeded from scratch (its delta link was never stored).
    inbox = SyncRun.objects.filter(mailbox=first, folder="inbox").order_by("started_at", "id")
    assert [run.outcome for run in inbox] == ["interrupted", "success"], list(inbox.values("outcome", "error"))
    assert inbox[0].error == INTERRUPTED_ERROR and inbox[0].seen >= 3 * SMALL_PAGE
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
