"""The posture pages: the hub's Security posture section, /security (the
rollup: averages, ordering, changes, flags, CSV, flat query count) and the
per-customer posture page."""

import csv
import functools
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers import hub_registry
from customers.models import Customer
from security.models import PostureRun, PostureSnapshot
from security.posture import ObservedUser
from security.services import posture_collection_store
from tests.factories import make_customer, make_snapshot, population

TODAY = date(2026, 11, 20)
GA = {"template_id": "62e90394-69f5-4237-9190-012177145e10", "name": "Global Administrator"}


def snapshot(customer, day, rows):
    """An unsaved snapshot of these user rows (tests/factories.py), metrics computed by the posture code."""
    return make_snapshot(customer, rows, taken_on=day, as_of=datetime.combine(day, datetime.min.time(), timezone.utc),
                         provenance={"mfa_source": "report"}, save=False)


def rows_of(response):
    return [row["name"] for row in response.context["page"]]


# ------------------------------------------------------------------ rollup


@pytest.fixture
def three_customers(db):
    a, b, c = (Customer.objects.create(name=n) for n in ("Alpha", "Bravo", "Charlie"))
    # Ten in-scope users each. Coverage, privileged MFA, privileged without MFA, weak share:
    PostureSnapshot.objects.bulk_create([
        snapshot(a, TODAY - timedelta(days=1), population(members=10, mfa=9, privileged=1, privileged_mfa=1)),  # 90, 100, 0, 0
        snapshot(a, TODAY, population(members=10, mfa=8, weak=2, privileged=1, privileged_mfa=1)),  # 80, 100, 0, 25
        snapshot(b, TODAY, population(members=10, mfa=5, weak=2, privileged=4, privileged_mfa=2)),  # 50, 50, 2, 40
        snapshot(c, TODAY - timedelta(days=3), population(members=10, mfa=6, privileged=4, privileged_mfa=3)),  # 60, 75, 1, 0
        snapshot(c, TODAY, population(members=10, mfa=7, privileged=4, privileged_mfa=3)),  # 70, 75, 1, 0
    ])
    return a, b, c


def test_rollup_averages_and_worst_first_order(viewer_client, three_customers):
    response = viewer_client.get("/security/")
    assert response.status_code == 200
    # Default: worst privileged MFA first (Bravo 50, Charlie 75, Alpha 100).
    assert rows_of(response) == ["Bravo", "Charlie", "Alpha"]
    averages = {a["signal"].key: a["value"] for a in response.context["averages"]}
    # Percentages are averaged (each customer once); counts are totalled.
    assert averages == {"mfa_coverage": 66.6, "privileged_mfa": 75.0, "privileged_without_mfa": 3.0,
                        "weak_method_share": 21.6,
                        # registration-only snapshots: no enforcement figures to average
                        "mfa_enforced": None, "mfa_protected": None, "privileged_protected": None,
                        "exceptions_expired": 0.0}
    html = response.content.decode()
    assert "66.6%" in html and "Average · total (3 customers with data)" in html
    # Each percentage shows its counts: Bravo 5 of 10 registered, 2 of 4 privileged.
    assert "50.0% <small" in html and "(5/10)" in html and "(2/4)" in html


def test_rollup_hides_no_customer(viewer_client, three_customers):
    from customers.models import CustomerDomain
    from security.models import PostureRun

    quiet = Customer.objects.create(name="Delta Quiet")
    CustomerDomain.objects.create(customer=quiet, domain="delta.example")
    Customer.objects.create(name="Echo Nodomain")
    PostureRun.objects.create(outcome="success", mfa_source="report")
    response = viewer_client.get("/security/")
    assert rows_of(response) == ["Bravo", "Charlie", "Alpha", "Delta Quiet", "Echo Nodomain"]  # no data sorts last
    html = response.content.decode()
    assert "No posture data: no users matched at delta.example" in html
    assert "No posture data: no domains" in html
    assert "5 customers · 3 with posture data" in html
    assert "trend from the second snapshot" in html  # Bravo has one snapshot: no one-point sparkline
    csv_text = b"".join(viewer_client.get("/security/export.csv").streaming_content).decode()
    assert "Delta Quiet" in csv_text and "no users matched at delta.example" in csv_text


def test_rollup_sorts_by_any_signal_both_ways(viewer_client, three_customers):
    assert rows_of(viewer_client.get("/security/?sort=mfa_coverage")) == ["Bravo", "Charlie", "Alpha"]
    assert rows_of(viewer_client.get("/security/?sort=mfa_coverage&order=best")) == ["Alpha", "Charlie", "Bravo"]
    # Lower is better for weak share: worst = highest.
    assert rows_of(viewer_client.get("/security/?sort=weak_method_share")) == ["Bravo", "Alpha", "Charlie"]
    assert rows_of(viewer_client.get("/security/?sort=weak_method_share&order=best")) == ["Charlie", "Alpha", "Bravo"]
    assert rows_of(viewer_client.get("/security/?sort=name")) == ["Alpha", "Bravo", "Charlie"]
    assert rows_of(viewer_client.get("/security/?sort=nonsense")) == ["Bravo", "Charlie", "Alpha"]


def test_a_customer_without_a_value_sorts_last_and_is_not_averaged(viewer_client, three_customers):
    # No one registered, so no weak share: nothing to divide by.
    nobody = Customer.objects.create(name="Delta")
    make_snapshot(nobody, population(members=10, privileged=1), taken_on=TODAY)
    assert rows_of(viewer_client.get("/security/?sort=weak_method_share")) == ["Bravo", "Alpha", "Charlie", "Delta"]
    assert rows_of(viewer_client.get("/security/?sort=weak_method_share&order=best")) == ["Charlie", "Alpha", "Bravo", "Delta"]
    averages = {a["signal"].key: a["value"] for a in viewer_client.get("/security/").context["averages"]}
    assert averages["weak_method_share"] == 21.6 and averages["mfa_coverage"] == 50.0  # (80 + 50 + 70 + 0) / 4


def test_rollup_shows_change_since_previous_snapshot_and_flags(viewer_client, three_customers, settings):
    settings.VECTIS_PRIVILEGED_MFA_THRESHOLD = 100
    response = viewer_client.get("/security/")
    rows = {r["name"]: r for r in response.context["page"]}
    alpha = {c["signal"].key: c for c in rows["Alpha"]["cells"]}
    assert alpha["mfa_coverage"]["delta"] == -10.0 and alpha["mfa_coverage"]["delta_class"] == "bad"
    assert alpha["weak_method_share"]["delta"] == 25.0 and alpha["weak_method_share"]["delta_class"] == "bad"
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
    # Coverage i/60: a different, rising figure for each customer.
    PostureSnapshot.objects.bulk_create([snapshot(c, TODAY, population(members=60, mfa=i)) for i, c in enumerate(customers)])
    first = viewer_client.get("/security/?sort=mfa_coverage")
    assert len(first.context["page"].object_list) == 50 and rows_of(first)[0] == "C000"
    second = viewer_client.get("/security/?sort=mfa_coverage&order=worst&page=2")
    assert rows_of(second) == [f"C{i:03}" for i in range(50, 60)]
    assert "Page 1 of 2" in first.content.decode()


@functools.cache
def _rows(*, mfa, privileged_mfa):
    return population(members=10, mfa=mfa, privileged=2, privileged_mfa=min(privileged_mfa, mfa))


def _make_customers(n):
    customers = Customer.objects.bulk_create([Customer(name=f"Customer {i:04}") for i in range(n)])
    snaps = []
    for i, c in enumerate(customers):
        snaps.append(snapshot(c, TODAY - timedelta(days=1), _rows(mfa=i % 11, privileged_mfa=2)))
        snaps.append(snapshot(c, TODAY, _rows(mfa=(i * 7) % 11, privileged_mfa=2 - i % 3)))
    PostureSnapshot.objects.bulk_create(snaps)


@pytest.mark.parametrize("n", [10, 500])
def test_rollup_query_count_is_flat(viewer_client, django_assert_max_num_queries, n):
    _make_customers(n)
    PostureRun.objects.create(outcome="success", mfa_source="report")
    viewer_client.get("/security/")  # warm the session
    with django_assert_max_num_queries(8):  # + customers without data and their domains (the rollup hides none)
        response = viewer_client.get("/security/")
    assert response.context["page"].paginator.count == n
    with django_assert_max_num_queries(13):  # the page's 8, plus its audit row (lock, chain head, insert, savepoint)
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
    PostureSnapshot.objects.bulk_create([snapshot(c, TODAY, _rows(mfa=5, privileged_mfa=1)) for c in extra])
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
    history = population(members=10, mfa=4, privileged=2, privileged_mfa=1)  # 40%, privileged 50%
    PostureSnapshot.objects.bulk_create([
        snapshot(customer, date(2026, 11, 19) - timedelta(days=d), history) for d in range(1, 120, 2)
    ])
    return customer


def test_hub_posture_section(viewer_client, northwind):
    response = viewer_client.get(f"/customers/{northwind.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    section = html[html.index('id="security-posture"'):html.index('</section>', html.index('id="security-posture"'))]
    assert "Data as of" in section
    assert "2 of 33 in-scope users registered" in section and "1 unknown" in section  # 6.0%
    assert "6.0%" in section and "50.0%" in section
    assert "1 of 2 in-scope privileged users registered" in section
    assert "user001<wbr>@northwind.example" in section and "Global Administrator" in section
    # Methods by the names people know, with the type and its strength on hover.
    assert ">FIDO2 security key<" in section and 'title="Phishing-resistant · fido2"' in section
    assert 'title="Weak · mobilePhone"' in section and ">Mobile phone (SMS or call)<" in section
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


def test_hub_and_posture_page_say_why_a_customer_has_no_posture(viewer_client, db):
    """Never synced, failed, or synced and matched nobody: a successful sync is not "No security posture yet"."""
    customer = make_customer("Alpine Ski House", "alpineskihouse.example")
    urls = (f"/customers/{customer.pk}/", f"/security/customers/{customer.pk}/")

    def said():
        return [viewer_client.get(url).content.decode() for url in urls]

    assert all("No security posture yet. It appears after the first Microsoft 365 posture sync" in html for html in said())
    started = datetime.now(timezone.utc) - timedelta(hours=1)
    PostureRun.objects.create(outcome="success", started_at=started, finished_at=started + timedelta(minutes=1))
    PostureRun.objects.create(outcome="running", started_at=started + timedelta(minutes=5))  # not finished: not the answer
    for html in said():
        assert "succeeded but matched no users at alpineskihouse.example" in html
        assert "No security posture yet" not in html
    PostureRun.objects.create(outcome="failed", started_at=started + timedelta(minutes=10))
    assert all("the last posture collection" in html and "failed" in html for html in said())
    nameless = Customer.objects.create(name="Empty")
    assert "has no email domains" in viewer_client.get(f"/customers/{nameless.pk}/").content.decode()


def test_hub_posture_costs_one_query(viewer_client, northwind, django_assert_num_queries):
    from security.selectors import posture_for_hub

    with django_assert_num_queries(1):
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
    assert "No security posture" in viewer_client.get(f"/security/customers/{empty.pk}/").content.decode()


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
    # 3 of 4 decided users registered (75%), 4 unknown; the one decided privileged user registered (100%), 1 unknown.
    make_snapshot(customer, population(members=8, mfa=3, unknown=4, privileged=2, privileged_mfa=1, privileged_unknown=1),
                  taken_on=TODAY, as_of=datetime(2026, 11, 20, tzinfo=timezone.utc), provenance={"mfa_source": "report"})
    html = viewer_client.get("/security/").content.decode()
    assert "4 unknown" in html and "1 unknown" in html
    body = b"".join(viewer_client.get("/security/export.csv").streaming_content).decode()
    row = next(csv.DictReader(io.StringIO(body)))
    assert (row["mfa_coverage_unknown"], row["privileged_mfa_unknown"]) == ("4", "1")


def test_rollup_draws_a_coverage_bar_per_customer_in_the_tables_order(viewer_client, db):
    from tests.factories import one_privileged_missing

    northwind = make_customer("Northwind Traders", "northwind.example")
    make_snapshot(northwind, one_privileged_missing())  # coverage 3/4, privileged 1/2
    make_customer("Alpine Ski House", "alpineskihouse.example")  # no data
    page = viewer_client.get("/security/").content.decode()
    chart = page.split('<figure class="coverage-chart">')[1].split("</figure>")[0]
    items = chart.split("<li>")[1:]
    table_order = re.findall(r'<td>\s*<a href="/security/customers/(\d+)/">', page)
    assert re.findall(r'class="bar-name" href="/security/customers/(\d+)/"', chart) == table_order
    [bar] = [i for i in items if "Northwind Traders" in i]
    assert 'class="bar-mfa_coverage" x="0" y="0" width="75.0"' in bar
    assert 'class="bar-privileged_mfa bar-flagged" x="0" y="7" width="50.0"' in bar  # below the threshold: flagged
    assert "MFA coverage</span> 75.0% (3/4)" in bar and "Privileged MFA</span> 50.0% (1/2)" in bar
    [none] = [i for i in items if "Alpine Ski House" in i]
    assert "<svg" not in none and "no data: no posture sync yet" in none


def test_rollup_repeats_the_sorted_by_figure_beside_the_customer_for_phones(viewer_client, db):
    northwind = make_customer("Northwind Traders", "northwind.example")
    make_snapshot(northwind, population(members=4, mfa=3, privileged=2, privileged_mfa=1))
    page = viewer_client.get("/security/").content.decode()  # default: privileged MFA, worst first
    assert re.search(r'<th class="num phone-only" aria-hidden="true">Privileged MFA <span class="sort-word">\(sorted\)', page)
    row = page.split('href="/security/customers/')[1]
    assert re.search(r'<td class="value phone-only flag" aria-hidden="true">50\.0% <small class="fraction">\(1/2\)', row)
    page = viewer_client.get("/security/?sort=mfa_coverage&order=worst").content.decode()
    assert re.search(r'<th class="num phone-only" aria-hidden="true">MFA coverage', page)
    assert "phone-only" not in viewer_client.get("/security/?sort=name").content.decode()


def test_the_hub_is_the_sections_the_apps_register_in_order(viewer_client, northwind):
    """customers registers Communications and security its posture section,
    each with a template of its own app; hub.html loops over them."""
    sections = hub_registry.sections()
    assert [(s.anchor, s.title, s.template) for s in sections] == [
        ("communications", "Communications", "customers/_communications.html"),
        ("security-posture", "Security posture", "security/_hub_posture.html"),
    ]
    html = viewer_client.get(f"/customers/{northwind.pk}/").content.decode()
    headings = re.findall(r'<section id="([\w-]+)" class="hub-section">\s*<h2>([^<]+)</h2>', html)
    assert headings == [(s.anchor, s.title) for s in sections]
