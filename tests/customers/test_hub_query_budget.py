"""The customer hub costs at most 12 queries, whatever the data size and
whoever looks (docs/performance.md): the same page at two sizes, as an admin
and as a member, counted with the session and user lookups included."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from customers import ingest
from customers.communications import Direction
from customers.matching import customer_matcher_build
from customers.models import Contact
from tests.factories import PASSWORD, make_customer, make_snapshot, make_user, population

pytestmark = pytest.mark.django_db

HUB_QUERY_BUDGET = 12
JANE, JACK = "jane@msp.example", "jack@msp.example"


def _fill(customer, *, messages, events, start=0):
    """Mail and meetings written through the sync's own ingest, each in both technicians' mailboxes."""
    matcher = customer_matcher_build()
    now = timezone.now()
    rows, event_rows = [], []
    for n in range(start, start + messages):
        for mailbox in (JANE, JACK):
            rows.append(ingest.MessageRow(
                mailbox=mailbox, graph_id=f"m{n}-{mailbox}", folder="inbox", internet_message_id=f"<m{n}@northwind>",
                received_at=now - timedelta(hours=n + 1), direction=Direction.RECEIVED, conversation_id=f"c{n % 7}",
                subject=f"Ticket {n}", from_name="Ann", from_address="ann@northwind.example",
                participants=[("from", "ann@northwind.example", "Ann"), ("to", mailbox, "")],
                customer_ids=frozenset({customer.pk})))
    for n in range(start, start + events):
        for mailbox in (JANE, JACK):
            event_rows.append(ingest.EventRow(
                mailbox=mailbox, graph_id=f"e{n}-{mailbox}", ical_uid=f"uid{n}", subject=f"Review {n}",
                starts_at=now + timedelta(hours=n - events // 2), ends_at=now + timedelta(hours=n - events // 2, minutes=30),
                organizer_address=mailbox, participants=[("organizer", mailbox, "", ""),
                                                        ("required", "ann@northwind.example", "Ann", "accepted")],
                customer_ids=frozenset({customer.pk})))
    ingest.messages_upsert(rows=rows, matcher=matcher)
    ingest.events_upsert(rows=event_rows, matcher=matcher)


@pytest.fixture
def hub(client):
    customer = make_customer("Northwind", "northwind.example")
    Contact.objects.create(customer=customer, name="Ann", email="ann@northwind.example")
    make_snapshot(customer, population(members=5, mfa=4, privileged=1, privileged_mfa=1))
    users = {"admin": make_user("boss", Role.ADMIN), "member": make_user("jane", Role.MEMBER, work_email=JANE)}
    return customer, users


def _queries(client, user, customer, **params):
    client.login(username=user.username, password=PASSWORD)
    client.get(f"/customers/{customer.pk}/", params)  # warm: the first request may fill caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/customers/{customer.pk}/", params)
    assert response.status_code == 200
    client.logout()
    return len(captured)


@pytest.mark.parametrize("who", ["admin", "member"])
def test_hub_stays_within_its_query_budget_at_two_sizes(client, hub, who):
    customer, users = hub
    _fill(customer, messages=3, events=2)
    small = _queries(client, users[who], customer)

    _fill(customer, messages=60, events=40, start=3)  # three pages of mail, meetings before and after now
    large = _queries(client, users[who], customer)
    page_two = _queries(client, users[who], customer, page=2)

    assert large == small, "the hub's query count grows with the data"
    assert max(small, large, page_two) <= HUB_QUERY_BUDGET, (small, large, page_two)


def test_hub_posture_reads_the_latest_snapshot_whole_and_the_trend_window(hub):
    from datetime import date

    from customers.windows import POSTURE_TREND_DAYS as TREND_DAYS
    from security.selectors import customer_posture

    customer, _ = hub
    newest = date(2026, 6, 1)  # the fixture's own snapshot (1 June 2025) is a year older
    for days_ago in (0, 1, 5, TREND_DAYS - 1, TREND_DAYS, 200):
        make_snapshot(customer, population(members=3 + days_ago, mfa=2), taken_on=newest - timedelta(days=days_ago))

    posture = customer_posture(customer.pk)

    latest = posture["snapshot"]
    assert latest.taken_on == newest and len(latest.users) == 3 and latest.provenance
    assert posture["metrics"]["users_total"] == 3
    assert posture["snapshot_count"] == 4  # 0, 1, 5 and 89 days back; 90 and 200 are outside the window
    assert posture["previous_on"] == newest - timedelta(days=1)


def test_hub_shows_the_next_meetings_and_the_whole_window_on_request(client, hub):
    """A busy customer's hub renders the soonest meetings from yesterday on, not
    all 200 of the window; the past week and the rest are one link away, and
    that view stays within the budget too."""
    customer, users = hub
    _fill(customer, messages=1, events=40)  # hourly meetings from 20 hours ago to 19 hours ahead
    client.login(username=users["member"].username, password=PASSWORD)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    shown = [n for n in range(40) if f">Review {n}<" in page]
    assert shown == list(range(12)), shown  # the first twelve from yesterday on, soonest first
    assert "All meetings of the past week and next 14 days" in page
    everything = client.get(f"/customers/{customer.pk}/", {"meetings": "all"}).content.decode()
    assert all(f">Review {n}<" in everything for n in range(40))
    assert "Fewer meetings" in everything
    client.logout()
    assert _queries(client, users["member"], customer, meetings="all") <= HUB_QUERY_BUDGET
