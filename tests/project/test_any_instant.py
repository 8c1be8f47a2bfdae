"""The date-sensitive paths at the instants that historically break date code
(tests/clock.py: month ends, 29 February, European and US daylight-saving
nights at 02:30 local in the site's zone, New Year's Eve, and the real now):
a sync equals the simulator's ground truth, the hub lists the right meetings
with the right day words, daily posture snapshots fall on the site's days,
and a pack built from them verifies.

Expectations are derived here from the simulator's data and from zoneinfo
directly, not from customers/windows.py, so a wrong rule there fails here."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format

from accounts.models import Role
from compliance.controls import framework_by_key
from compliance.packs import build_pack, pack_source
from compliance.verify import verify_pack
from customers.models import Customer, Event, MessageCustomer
from integrations.posture.posture_sync import posture_sync
from integrations.setup.connection import connection_get, graph_client_for
from security.models import PostureRun, PostureSnapshot
from security.selectors import customer_posture

from ..clock import INSTANTS
from ..factories import make_user


@pytest.fixture(params=INSTANTS, ids=lambda instant: instant.name)
def instant(request, test_clock, settings):
    """The clock moved to the instant (time flows from there) and the site's zone set."""
    settings.TIME_ZONE = request.param.time_zone
    test_clock.move_to(request.param.moment())
    return request.param


@pytest.fixture
def kit(instant, sync_kit):
    # The simulator's data is anchored at the instant (graph_sim reads the moved clock).
    assert abs(sync_kit.now - instant.moment()) < timedelta(minutes=2)
    return sync_kit


def local_midnight(day, zone):
    return datetime.combine(day, time.min).replace(tzinfo=zone).astimezone(ZoneInfo("UTC"))


def test_sync_equals_the_ground_truth(kit):
    summaries = kit.sync()

    assert all(s["outcome"] == "success" for s in summaries)
    kit.assert_ground_truth()


def test_hub_lists_meetings_from_the_viewers_yesterday_with_the_right_day_words(kit, instant, client):
    kit.sync()
    zone = ZoneInfo(instant.time_zone)
    customer = Customer.objects.annotate(n=Count("event_links")).order_by("-n", "pk").first()
    client.force_login(make_user("ada", Role.ADMIN))

    response = client.get(reverse("customers:hub", args=[customer.pk]))

    now = timezone.now()
    local_today = now.astimezone(zone).date()
    yesterday_begins = local_midnight(local_today - timedelta(days=1), zone)
    expected = list(
        Event.objects.filter(customer_links__customer=customer, starts_at__gte=yesterday_begins,
                             starts_at__lt=now + timedelta(days=14))
        .order_by("starts_at", "id").values_list("pk", flat=True)[:12]
    )
    listed = [event.pk for event in response.context["events"]]
    assert listed == expected and listed
    html = response.content.decode()
    words = {0: "today", 1: "tomorrow", -1: "yesterday"}
    for event in response.context["events"]:
        start = event.starts_at.astimezone(zone)
        word = words.get((start.date() - local_today).days) or date_format(start, "D j M")
        assert (f"{word} · all day" if event.is_all_day else f"{word} {date_format(start, 'g:iA').lower()}") in html
    # The recent mail: everything received in the last 14 x 24 hours, nothing older.
    recent = MessageCustomer.objects.filter(customer=customer, received_at__gte=now - timedelta(days=14))
    assert response.context["message_page"].paginator.count == recent.values("message").distinct().count()


def test_daily_snapshots_fall_on_the_sites_days_and_the_pack_verifies(kit, instant, test_clock):
    zone = ZoneInfo(instant.time_zone)
    client = graph_client_for(connection_get())
    days, at = [], instant.moment()
    for back in (2, 1, 0):
        test_clock.move_to(at - timedelta(days=back))
        assert posture_sync(client=client).outcome == PostureRun.Outcome.SUCCESS
        days.append(timezone.now().astimezone(zone).date())

    assert len(set(days)) == 3  # 24 hours apart is a new local day, even on a 23- or 25-hour day
    customer = PostureSnapshot.objects.values_list("customer", flat=True).order_by("customer").first()
    assert sorted(PostureSnapshot.objects.filter(customer=customer).values_list("taken_on", flat=True)) == days
    posture = customer_posture(customer)
    latest = posture["snapshot"]
    assert (latest.taken_on, posture["previous_on"], posture["snapshot_count"]) == (days[-1], days[-2], 3)
    pack = build_pack(pack_source(latest, framework_by_key("soc2")))
    assert verify_pack(pack.data).ok
    assert days[-1].isoformat() in pack.filename
