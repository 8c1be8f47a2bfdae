"""The one recovery rule (integrations.setup.claims) applied to the posture collection:
a claim with a heartbeat, stale takeover, a dead run closed as interrupted,
a skipped run stored as skipped, and a redelivered task that comes back when
the dead run's claim is stale. In-process against the Graph simulator;
tests/faults/test_worker_killed.py runs the same with real workers on Redis."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.posture.posture_sync import posture_claim_row, posture_collect, posture_sync
from integrations.setup.claims import ClaimLost, claim_stale_after
from integrations.setup.connection import connection_get, graph_client_for
from integrations.setup.models import TaskClaim
from integrations.tasks import sync_posture
from security.models import PostureRun, PostureSnapshot


def collect():
    return posture_collect(connection=connection_get())


def test_a_second_collection_is_skipped_while_one_holds_the_claim(m365_connected):
    claim = posture_claim_row(to_take=True).take()
    assert claim is not None and posture_claim_row(to_take=True).take() is None  # the conditional UPDATE lets one win
    live = PostureRun.objects.create(started_at=claim.token)
    m365_connected.simulator.clear_requests()

    skipped = collect()

    assert skipped.outcome == PostureRun.Outcome.SKIPPED and skipped.finished_at
    assert f"running since {live.started_at:%Y-%m-%d %H:%M:%S} UTC" in skipped.error
    assert f"taken over from {claim.token + claim_stale_after():%H:%M:%S} UTC" in skipped.error
    assert m365_connected.simulator.requests == []  # nothing read while the claim is held
    live.refresh_from_db()
    assert live.outcome == PostureRun.Outcome.RUNNING  # a live run is left alone
    assert not PostureSnapshot.objects.exists()

    # Once the holder finishes, the next collection goes ahead and releases the claim after.
    live.outcome = PostureRun.Outcome.SUCCESS
    live.save()
    claim.release()
    run = collect()
    assert run.outcome == PostureRun.Outcome.SUCCESS, run.error
    assert TaskClaim.objects.get(name="posture").heartbeat_at is None


def test_a_dead_collection_is_taken_over_once_stale_and_closed_as_interrupted(m365_connected):
    dead_claim = posture_claim_row(to_take=True).take(now=timezone.now() - claim_stale_after() - timedelta(seconds=5))
    dead = PostureRun.objects.create(started_at=dead_claim.token)  # its worker was killed

    run = collect()

    assert run.outcome == PostureRun.Outcome.SUCCESS, run.error
    dead.refresh_from_db()
    assert dead.outcome == PostureRun.Outcome.INTERRUPTED and dead.finished_at and "Interrupted" in dead.error
    # The dead run cannot release the new holder's claim (nor anyone's, now).
    assert PostureSnapshot.objects.filter(provenance__posture_run_id=run.pk).count() == PostureSnapshot.objects.count() > 0
    dead_claim.release()
    assert posture_claim_row(to_take=True).take() is not None


def test_a_live_collection_is_not_taken_over_while_it_heartbeats(m365_connected, settings):
    """Stale after 2 s, heartbeat every 0.5 s; every Graph page takes 0.6 s, so a run
    that did not heartbeat would look dead long before it ends."""
    settings.VECTIS_SYNC_CLAIM_STALE_SECONDS = 2
    m365_connected.simulator.faults.set("unlicensed_report")  # the per-user $batch fallback: many requests
    m365_connected.simulator.faults.set("slow", delay=0.6, path=r"/(users|directoryRoles|\$batch)")
    claim = posture_claim_row(to_take=True).take()
    run = PostureRun.objects.create(started_at=claim.token)
    beats = [claim.token]  # the stored heartbeat after each refresh the collection makes

    class Watched:
        def refresh(self, *, force=False):
            claim.refresh(force=force)
            beats.append(posture_claim_row().heartbeat())

    with graph_client_for(connection_get()) as client:
        posture_sync(client=client, run=run, claim=Watched())

    assert run.outcome == PostureRun.Outcome.SUCCESS, run.error
    assert (run.finished_at - run.started_at).total_seconds() > 2 * claim_stale_after().total_seconds()
    # Never silent for the stale time while it worked: nobody could have taken it over.
    beats.append(run.finished_at)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(beats, beats[1:], strict=False)]
    assert max(gaps) < claim_stale_after().total_seconds(), gaps
    assert posture_claim_row(to_take=True).take() is None


def test_a_collection_whose_claim_was_taken_over_writes_nothing(m365_connected):
    claim = posture_claim_row(to_take=True).take()
    run = PostureRun.objects.create(started_at=claim.token)
    # Another run took over (as it would once ours looked dead).
    TaskClaim.objects.filter(name="posture").update(heartbeat_at=timezone.now() + timedelta(seconds=1))
    with graph_client_for(connection_get()) as client:
        posture_sync(client=client, run=run, claim=claim)

    run.refresh_from_db()
    assert run.outcome == PostureRun.Outcome.INTERRUPTED and "wrote nothing" in run.error and run.finished_at
    assert not PostureSnapshot.objects.exists()
    with pytest.raises(ClaimLost):
        claim.refresh(force=True)


def test_a_redelivered_posture_task_meeting_a_dead_runs_claim_comes_back_when_it_is_stale(m365_connected, monkeypatch):
    """The broker redelivers a killed worker's message at once, while the dead run's claim still looks alive."""
    from celery.exceptions import Retry

    TaskClaim.objects.create(name="posture", heartbeat_at=timezone.now() - timedelta(seconds=100))  # the dead run
    retries = []

    def retry(**options):
        retries.append(options)
        return Retry()

    monkeypatch.setattr(sync_posture, "retry", retry)
    m365_connected.simulator.clear_requests()
    for redelivered in (False, True):
        sync_posture.push_request(delivery_info={"redelivered": redelivered})
        try:
            if redelivered:
                with pytest.raises(Retry):
                    sync_posture.run()
            else:
                sync_posture.run()  # a second request while a run is going: skipped, done
        finally:
            sync_posture.pop_request()

    assert PostureRun.objects.filter(outcome=PostureRun.Outcome.SKIPPED).count() == 2
    assert not PostureRun.objects.exclude(outcome=PostureRun.Outcome.SKIPPED).exists()  # never stored as failed
    [options] = retries
    assert options["countdown"] == pytest.approx(claim_stale_after().total_seconds() - 100 + 1, abs=2)
    assert m365_connected.simulator.requests == []  # nothing read while the claim was held


def test_sync_now_says_when_posture_cannot_start_and_when_a_dead_run_is_taken_over(
        client, admin_user, m365_connected, django_capture_on_commit_callbacks, monkeypatch):
    claim = posture_claim_row(to_take=True).take(now=timezone.now() - timedelta(seconds=30))
    running = PostureRun.objects.create(started_at=claim.token)
    PostureRun.objects.create(started_at=claim.token - timedelta(hours=1), finished_at=claim.token,
                              outcome=PostureRun.Outcome.INTERRUPTED, error="Interrupted: the worker stopped mid-run.")
    queued = []
    monkeypatch.setattr(sync_posture, "apply_async", lambda **options: queued.append(options))
    monkeypatch.setattr(sync_posture, "delay", lambda **kwargs: queued.append({"now": True}))
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("integrations:posture_sync"), follow=True)

    page = response.content.decode()
    takeover = claim.token + claim_stale_after()
    assert "Security posture not started" in page
    assert f"running since {running.started_at:%Y-%m-%d %H:%M} UTC" in page
    assert f"taken over at {takeover:%H:%M:%S} UTC" in page
    # The request is queued for the takeover moment, not dropped and not run now.
    [options] = queued
    assert options["countdown"] == pytest.approx((takeover - timezone.now()).total_seconds() + 1, abs=2)
    # The section itself says a run is in progress, and the history shows the interrupted run.
    assert "A collection has been running since" in page
    assert 'class="tag tag-warn">interrupted<' in page and 'class="tag tag-running">running<' in page


def test_sync_now_starts_posture_when_nothing_holds_the_claim(client, admin_user, m365_connected,
                                                               django_capture_on_commit_callbacks):
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(reverse("integrations:sync_start"), follow=True).content.decode()
    assert "then the security posture" in page and "not started" not in page
    assert PostureRun.objects.get().outcome == PostureRun.Outcome.SUCCESS


def test_every_task_is_given_back_by_a_dead_worker_and_every_claiming_task_retries_when_stale():
    """The audit table in docs/operations.md, checked: a task added later without the rule fails here."""
    from vectis.celery import app

    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert set(ours) == {"integrations.tasks.sync_all_mailboxes", "integrations.tasks.sync_mailbox",
                         "integrations.tasks.purge_old_communications", "integrations.tasks.sync_posture",
                         "integrations.tasks.resume_orphaned_work", "integrations.tasks.sync_customer_tenants_posture",
                         "integrations.tasks.sync_customer_tenant_posture"}
    for name, task in ours.items():
        assert task.acks_late and task.reject_on_worker_lost and task.ignore_result, name
    for name in ("integrations.tasks.sync_mailbox", "integrations.tasks.sync_posture",
                 "integrations.tasks.sync_customer_tenant_posture"):
        assert ours[name].max_retries == 3, name


def test_the_sweep_restarts_a_posture_run_whose_worker_died_and_leaves_live_ones_alone(m365_connected):
    """A dead host's message comes back only after Redis's visibility timeout (an hour), and a Redis
    restart loses it: the sweep (beat, every third of the stale time) takes the run over instead."""
    from integrations.tasks import resume_orphaned_work

    live = posture_claim_row(to_take=True).take()
    running = PostureRun.objects.create(started_at=live.token)
    m365_connected.simulator.clear_requests()
    resume_orphaned_work.apply()
    assert list(PostureRun.objects.values_list("outcome", flat=True)) == ["running"]  # live: left alone
    assert m365_connected.simulator.requests == []

    TaskClaim.objects.filter(name="posture").update(heartbeat_at=live.token - claim_stale_after() - timedelta(seconds=1))
    resume_orphaned_work.apply()
    running.refresh_from_db()
    assert running.outcome == PostureRun.Outcome.INTERRUPTED
    assert PostureRun.objects.filter(outcome=PostureRun.Outcome.SUCCESS).count() == 1

    resume_orphaned_work.apply()  # nothing orphaned any more: no new run
    assert PostureRun.objects.count() == 2
