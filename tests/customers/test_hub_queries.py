"""The hub's and /security's bounded queries return what the slower forms did
(docs/performance.md explains why they changed)."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from customers.models import (
    Customer,
    Message,
    MessageCustomer,
    MessageHolder,
    MessageParticipant,
)
from customers.selectors import customer_recent_message_count, customer_recent_messages
from security import rollup
from tests.factories import make_snapshot, make_user, population

pytestmark = pytest.mark.django_db


def message(n, customers, *, tech, days_ago=1):
    received = timezone.now() - timedelta(days=days_ago, minutes=n)
    msg = Message.objects.create(identity=f"m{n}", internet_message_id=f"<m{n}@x>", subject=f"m{n}", received_at=received)
    copy = MessageHolder.objects.create(message=msg, mailbox=tech, graph_id=f"g{n}", folder="inbox", direction="received")
    MessageParticipant.objects.create(holder=copy, message=msg, role="to", address=tech)
    for customer in customers:
        MessageCustomer.objects.create(message=msg, customer=customer, received_at=received)
    return msg


@pytest.fixture
def world():
    a = Customer.objects.create(name="Alpha")
    b = Customer.objects.create(name="Beta")
    both = message(1, [a, b], tech="jane@msp.example")
    only_a = message(2, [a], tech="jack@msp.example")
    old = message(3, [a], tech="jane@msp.example", days_ago=20)
    return {"a": a, "b": b, "both": both, "only_a": only_a, "old": old,
            "admin": make_user("boss", Role.ADMIN), "jane": make_user("jane", Role.MEMBER, work_email="jane@msp.example")}


@pytest.mark.parametrize("who", ["admin", "jane"])
def test_a_message_touching_two_customers_is_listed_once_and_counted_once(world, who):
    user = world[who]
    listed = [m.pk for m in customer_recent_messages(user, world["a"])]
    expected = [world["both"].pk, world["only_a"].pk] if who == "admin" else [world["both"].pk]
    assert listed == expected  # newest first, the 20-day-old one outside the 14-day window
    assert customer_recent_message_count(user, world["a"]) == len(expected)
    assert customer_recent_message_count(user, world["b"]) == 1


def test_the_hub_pager_uses_the_link_count(client, world):
    client.force_login(world["jane"])
    page = client.get(f"/customers/{world['a'].pk}/").context["message_page"]
    assert page.paginator.count == 1 and [m.pk for m in page] == [world["both"].pk]


def snapshot(customer, day, coverage):
    """Ten users, all privileged, `coverage` percent of them registered (a multiple of ten)."""
    registered = int(coverage) // 10
    return make_snapshot(customer, population(members=10, mfa=registered, privileged=10, privileged_mfa=registered),
                         taken_on=day, as_of=timezone.now(), provenance={"mfa_source": "report"})


def test_rollup_takes_each_customers_own_latest_two_snapshots(db):
    a = Customer.objects.create(name="Alpha")
    b = Customer.objects.create(name="Beta")
    gamma = Customer.objects.create(name="Gamma")  # never observed: listed last, with no figures
    for offset, coverage in ((3, 10.0), (2, 20.0), (1, 30.0)):
        snapshot(a, date(2026, 1, 10) - timedelta(days=offset), coverage)
    snapshot(b, date(2025, 12, 1), 50.0)  # older than all of Alpha's, and alone
    data = rollup.rollup(sort="name")
    assert [r["customer_id"] for r in data["rows"]] == [a.pk, b.pk, gamma.pk]
    assert data["observed_count"] == 2 and data["rows"][2]["no_data"] and data["rows"][2]["taken_on"] is None
    rows = {r["customer_id"]: r for r in data["rows"]}
    assert rows[a.pk]["taken_on"] == date(2026, 1, 9) and rows[a.pk]["values"]["mfa_coverage"] == 30.0
    assert rows[a.pk]["mfa_source"] == "report" and rows[b.pk]["taken_on"] == date(2025, 12, 1)
    assert "cells" not in rows[a.pk]  # details are only worked out for the rows shown
    rollup.rollup_details([rows[a.pk]], data["signals"])  # one query, for the page's rows
    assert rows[a.pk]["previous_on"] == date(2026, 1, 8)
    assert {c["signal"].key: c["delta"] for c in rows[a.pk]["cells"]}["mfa_coverage"] == 10.0
    rollup.rollup_details(data["rows"], data["signals"], all_rows=True)  # the CSV's way
    assert rows[b.pk]["previous_on"] is None and all(c["delta"] is None for c in rows[b.pk]["cells"])


def test_security_page_shows_changes_and_costs_the_same_queries_with_more_history(admin_client, django_assert_max_num_queries):
    customers = [Customer.objects.create(name=f"C{n}") for n in range(3)]
    for customer in customers:
        for day in range(1, 4):
            snapshot(customer, date(2026, 1, day), 10.0 * day)
    with django_assert_max_num_queries(8):
        response = admin_client.get("/security/")
    assert response.status_code == 200 and "+10.0" in response.content.decode()
    csv = b"".join(admin_client.get("/security/export.csv").streaming_content).decode()
    assert csv.count("\n") == 4 and ",10.0," in csv
