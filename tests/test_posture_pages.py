"""The posture pages: the hub's Security posture section, /security (the
rollup: averages, ordering, changes, flags, CSV, flat query count) and the
per-customer posture page."""

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from integrations.models import PostureRun
from security.models import PostureSnapshot
from security.posture import ObservedUser, posture_metrics
from security.services import posture_collection_store

TODAY = date(2026, 11, 20)
GA = {"template_id": "62e90394-69f5-4237-9190-012177145e10", "name": "Global Administrator"}


def metrics(coverage=None, privileged=None, without=0, weak=None, **extra):
    return {"coverage_pct": coverage, "privileged_mfa_pct": privileged, "privileged_mfa_not_registered": without,
            "weak_method_share_pct": weak, "users_total": 10, "in_scope": 8, **extra}


def snapshot(customer, day, m, users=()):
    return PostureSnapshot(customer=customer, taken_on=day, as_of=datetime.combine(day, datetime.min.time(), timezone.utc),
                           metrics=m, users=list(users), provenance={"mfa_source": "report"})


def rows_of(response):
    return [row["name"] for row in response.context["page"]]


# ------------------------------------------------------------------ rollup


@pytest.fixture
def three_customers(db):
    a, b, c = (Customer.objects.create(name=n) for n in ("Alpha", "Bravo", "Charlie"))
    PostureSnapshot.objects.bulk_create([
        snapshot(a, TODAY - timedelta(days=1), metrics(90.0, 100.0, 0, 10.0)),
        snapshot(a, TODAY, metrics(80.0, 100.0, 0, 20.0)),
        snapshot(b, TODAY, metrics(50.0, 50.0, 2, 40.0)),
        snapshot(c, TODAY - timedelta(days=3), metrics(60.0, 75.0, 1, None)),
        snapshot(c, TODAY, metrics(70.0, 75.0, 1, None)),
    ])
    return a, b, c


def test_rollup_averages_and_worst_first_order(viewer_client, three_customers):
    response = viewer_client.get("/security/")
    assert response.status_code == 200
    # Default: worst privileged MFA first (Bravo 50, Charlie 75, Alpha 100).
    assert rows_of(response) == ["Bravo", "Charlie", "Alpha"]
    averages = {a["signal"].key: a["value"] for a in response.context["averages"]}
    assert averages == {"mfa_coverage": 66.6, "privileged_mfa": 75.0, "privileged_without_mfa": 1.0,
                        "weak_method_share": 30.0}  # weak share: Charlie has no value and is not averaged
    html = response.content.decode()
    assert "66.6%" in html and "Average (3 customers)" in html


def test_rollup_sorts_by_any_signal_both_ways(viewer_client, three_customers):
    assert rows_of(viewer_client.get("/security/?sort=mfa_coverage")) == ["Bravo", "Charlie", "Alpha"]
    assert rows_of(viewer_client.get("/security/?sort=mfa_coverage&order=best")) == ["Alpha", "Charlie", "Bravo"]
    # Lower is better for weak share: worst = highest; no value sorts last either way.
    assert rows_of(viewer_client.get("/security/?sort=weak_method_share")) == ["Bravo", "Alpha", "Charlie"]
    assert rows_of(viewer_client.get("/security/?sort=weak_method_share&order=best")) == ["Alpha", "Bravo", "Charlie"]
    assert rows_of(viewer_client.get("/security/?sort=name")) == ["Alpha", "Bravo", "Charlie"]
    assert rows_of(viewer_client.get("/security/?sort=nonsense")) == ["Bravo", "Charlie", "Alpha"]


def test_rollup_shows_change_since_previous_snapshot_and_flags(viewer_client, three_customers, settings):
    settings.VECTIS_PRIVILEGED_MFA_THRESHOLD = 100
    response = viewer_client.get("/security/")
    rows = {r["name"]: r for r in response.context["page"]}
    alpha = {c["signal"].key: c for c in rows["Alpha"]["cells"]}
    assert alpha["mfa_coverage"]["delta"] == -10.0 and alpha["mfa_coverage"]["delta_class"] == "bad"
    assert alpha["weak_method_share"]["delta"] == 10.0 and alpha["weak_method_share"]["delta_class"] == "bad"
    assert {c["signal"].key: c["delta"] for c in rows["Charlie"]["cells"]}["mfa_coverage"] == 10.0
    assert all(c["delta"] is None for c in rows["Bravo"]["cells"])  # only one snapshot
    assert rows["Bravo"]["flags"] == ["Privileged MFA below 100%"] and rows["Charlie"]["flags"]
    assert rows["Alpha"]["flags"] == []
    html = response.content.decode()
    assert "\u221210.0 pts" in html and "Privileged MFA below 100%" in html

    settings.VECTIS_PRIVILEGED_MFA_THRESHOLD = 70
    rows = {r["name"]: r for r in viewer_client.get("/security/").context["page"]}
    assert rows["Charlie"]["flags"] == [] and rows["Bravo"]["flags"]


def test_rollup_shows_the_last_run_and_its_source(viewer_client, three_customers):
    PostureRun.objects.create(outcome="success", mfa_source="methods", fallback_users=42,
                              report_unavailable_reason="The MFA registration report needs an Entra ID P1 or P2 licence.")
    html = viewer_client.get("/security/").content.decode()
    assert "Per-user authentication methods (fallback, via $batch) for 42 users" in html
    assert "needs an Entra ID P1 or P2 licence" in html


def test_rollup_empty_state(viewer_client):
    html = viewer_client.get("/security/").content.decode()
    assert "No posture data yet" in html and "never run" in html


def test_rollup_csv_export_is_audited_with_its_row_count(member_client, member_user, three_customers):
    from audit.models import AuditEvent

    response = member_client.get("/security/export.csv")
    b"".join(response.streaming_content)
    event = AuditEvent.objects.get(action="security.export_csv")
    assert event.actor_id == member_user.pk and event.details["rows"] == 3


def test_rollup_csv_export(member_client, three_customers):
    Customer.objects.filter(name="Bravo").update(name="=HYPERLINK(1)")
    response = member_client.get("/security/export.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["customer"] for r in rows] == ["'=HYPERLINK(1)", "Charlie", "Alpha"]  # formula defused, worst first
    assert rows[2]["mfa_coverage"] == "80.0" and rows[2]["mfa_coverage_change"] == "-10.0"
    assert rows[0]["flags"] == "Privileged MFA below 100%"
    assert member_client.post("/security/export.csv").status_code == 405


def test_rollup_paginates(viewer_client, db):
    customers = Customer.objects.bulk_create([Customer(name=f"C{i:03}") for i in range(60)])
    PostureSnapshot.objects.bulk_create([snapshot(c, TODAY, metrics(float(i), 100.0)) for i, c in enumerate(customers)])
    first = viewer_client.get("/security/?sort=mfa_coverage")
    assert len(first.context["page"].object_list) == 50 and rows_of(first)[0] == "C000"
    second = viewer_client.get("/security/?sort=mfa_coverage&order=worst&page=2")
    assert rows_of(second) == [f"C{i:03}" for i in range(50, 60)]
    assert "Page 1 of 2" in first.content.decode()


def _make_customers(n):
    customers = Customer.objects.bulk_create([Customer(name=f"Customer {i:04}") for i in range(n)])
    snaps = []
    for i, c in enumerate(customers):
        snaps.append(snapshot(c, TODAY - timedelta(days=1), metrics(float(i % 100), 100.0, 0, 5.0)))
        snaps.append(snapshot(c, TODAY, metrics(float((i * 7) % 100), float(i % 3) * 50, i % 3, 10.0)))
    PostureSnapshot.objects.bulk_create(snaps)


@pytest.mark.parametrize("n", [10, 500])
def test_rollup_query_count_is_flat(viewer_client, django_assert_max_num_queries, n):
    _make_customers(n)
    PostureRun.objects.create(outcome="success", mfa_source="report")
    viewer_client.get("/security/")  # warm the session
    with django_assert_max_num_queries(6):
        response = viewer_client.get("/security/")
    assert response.context["page"].paginator.count == n
    with django_assert_max_num_queries(11):  # the page's 6, plus its audit row (lock, chain head, insert, savepoint)
        response = viewer_client.get("/security/export.csv")
        body = b"".join(response.streaming_content)
    assert body.count(b"\n") == n + 1


def test_rollup_query_count_identical_for_10_and_500(viewer_client, db):
    def queries_for_rollup():
        viewer_client.get("/security/")  # warm the session
        with CaptureQueriesContext(connection) as queries:
            viewer_client.get("/security/")
        return len(queries)

    _make_customers(10)
    small = queries_for_rollup()
    extra = Customer.objects.bulk_create([Customer(name=f"More {i:04}") for i in range(490)])
    PostureSnapshot.objects.bulk_create([snapshot(c, TODAY, metrics(50.0, 50.0)) for c in extra])
    assert queries_for_rollup() == small


# ------------------------------------------------------------------ hub and customer page


def observed(n, *, customer, mfa=True, roles=(), methods=("microsoftAuthenticatorPush",), **kw):
    return ObservedUser(graph_id=f"g{customer.pk}-{n}", upn=f"user{n:03}@northwind.example", display_name=f"User {n}",
                        mfa_registered=mfa, method_types=tuple(methods if mfa else ()), mfa_source="report",
                        privileged_roles=tuple(roles), customer_id=customer.pk, **kw)


@pytest.fixture
def northwind(db):
    customer = Customer.objects.create(name="Northwind")
    users = [
        observed(1, customer=customer, roles=[GA], methods=("fido2", "mobilePhone")),
        observed(2, customer=customer, roles=[GA], mfa=False),
        observed(3, customer=customer, methods=("mobilePhone",)),
        observed(4, customer=customer, mfa=None),
        observed(5, customer=customer, user_type="guest", mfa=False),
        observed(6, customer=customer, account_enabled=False, mfa=False),
    ] + [observed(n, customer=customer, mfa=False) for n in range(10, 40)]
    as_of = datetime(2026, 11, 19, 6, 0, tzinfo=timezone.utc)
    posture_collection_store(users=users, as_of=as_of, provenance={"mfa_source": "report"})
    PostureSnapshot.objects.bulk_create([
        snapshot(customer, date(2026, 11, 19) - timedelta(days=d), posture_metrics([]) | {"coverage_pct": 40.0 + d / 3,
                                                                                         "privileged_mfa_pct": 50.0})
        for d in range(1, 120, 2)
    ])
    return customer


def test_hub_posture_section(viewer_client, northwind):
    response = viewer_client.get(f"/customers/{northwind.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    section = html[html.index('id="security-posture"'):html.index('id="contacts"')]
    assert "Data as of" in section
    assert "2 of 33 in-scope users registered" in section and "1 unknown" in section  # 6.0%
    assert "6.0%" in section and "50.0%" in section
    assert "1 of 2 in-scope privileged users registered" in section
    assert "user001<wbr>@northwind.example" in section and "Global Administrator" in section
    assert ">fido2<" in section and 'title="Phishing-resistant"' in section and 'title="Weak"' in section
    assert "<svg" in section and "<polyline" in section
    assert "<strong>1</strong> guest," in section and "<strong>1</strong> disabled" in section
    assert "Registration, not enforcement." in section and "Scope rule." in section
    assert "62e90394-69f5-4237-9190-012177145e10" in section  # the privileged role rule is readable
    assert f"/compliance/?customer={northwind.pk}" in section
    assert f"/security/customers/{northwind.pk}/?show=without_mfa" in section  # 31 without MFA, 10 shown
    # CSP: no inline script or style in what the section renders.
    assert "<script" not in section and "style=" not in section


def test_hub_trend_covers_90_days_only(viewer_client, northwind):
    posture = viewer_client.get(f"/customers/{northwind.pk}/").context["posture"]
    assert posture["snapshot_count"] == 1 + len(range(1, 90, 2))


def test_hub_without_posture(viewer_client, db):
    customer = Customer.objects.create(name="Empty")
    html = viewer_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "No security posture yet" in html


def test_hub_posture_costs_two_queries(viewer_client, northwind, django_assert_num_queries):
    from security.selectors import posture_for_hub

    with django_assert_num_queries(2):
        posture_for_hub(northwind)


def test_customer_posture_page_filters_and_paginates(viewer_client, northwind):
    page = viewer_client.get(f"/security/customers/{northwind.pk}/?show=without_mfa")
    assert page.status_code == 200
    assert page.context["page"].paginator.count == 31
    upns = [u["upn"] for u in page.context["page"]]
    assert "user002@northwind.example" == upns[0]  # privileged without MFA sorts with the rest, by UPN
    unknown = viewer_client.get(f"/security/customers/{northwind.pk}/?show=unknown")
    assert [u["upn"] for u in unknown.context["page"]] == ["user004@northwind.example"]
    assert viewer_client.get(f"/security/customers/{northwind.pk}/?show=bogus").context["filter_key"] == "all"
    empty = Customer.objects.create(name="Nobody")
    assert "No security posture yet" in viewer_client.get(f"/security/customers/{empty.pk}/").content.decode()


def test_pages_escape_names_from_the_directory(viewer_client, db):
    customer = Customer.objects.create(name="Evil")
    hostile = ObservedUser(graph_id="x", upn="a@evil.example", display_name="<img src=x onerror=alert(1)>",
                           mfa_registered=False, privileged_roles=(GA,), customer_id=customer.pk)
    posture_collection_store(users=[hostile], as_of=datetime(2026, 11, 19, tzinfo=timezone.utc), provenance={})
    html = viewer_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert not re.search(r"<script(?! src=)", html)


def test_rollup_shows_unknowns_beside_the_percentages(viewer_client, db):
    customer = Customer.objects.create(name="Partly read")
    PostureSnapshot.objects.create(customer=customer, taken_on=TODAY, as_of=datetime(2026, 11, 20, tzinfo=timezone.utc),
                                   metrics=metrics(75.0, 100.0, mfa_unknown=4, privileged_mfa_unknown=1), users=[])
    html = viewer_client.get("/security/").content.decode()
    assert "4 unknown" in html and "1 unknown" in html
    body = b"".join(viewer_client.get("/security/export.csv").streaming_content).decode()
    row = next(csv.DictReader(io.StringIO(body)))
    assert (row["mfa_coverage_unknown"], row["privileged_mfa_unknown"]) == ("4", "1")
