"""Which posture run the pages report on (one rule, used by /security, the
rollup's "why no posture" reasons and the Integrations page)."""

from .models import PostureRun


def latest_posture_run(*, finished=False) -> PostureRun | None:
    """The most recent posture run, for the pages that show the last outcome;
    with `finished`, the latest that ended with data or an error (running,
    skipped and interrupted runs are left out)."""
    runs = PostureRun.objects.order_by("-started_at", "-id")
    if finished:
        runs = runs.filter(outcome__in=(PostureRun.Outcome.SUCCESS, PostureRun.Outcome.FAILED))
    return runs.first()
