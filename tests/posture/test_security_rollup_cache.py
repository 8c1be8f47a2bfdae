"""/security keeps its sorted order in a cache so a page reads only its own
rows; the order must follow every change that can move a customer."""

from datetime import datetime, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from customers.services import customer_update
from security.services import posture_collection_store
from tests.posture.test_posture_pages import _make_customers, observed

pytestmark = pytest.mark.django_db

AS_OF = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)  # the day of _make_customers' latest snapshots


def _names(client, **params):
    response = client.get("/security/", {"sort": "mfa_coverage", "order": "worst", **params})
    assert response.status_code == 200
    return [row["name"] for row in response.context["page"]]


def _collect(customer, *, mfa):
    """The day's collection again, for one customer: its snapshot is rewritten in place."""
    users = [observed(n, customer=customer, mfa=n < mfa) for n in range(10)]
    posture_collection_store(users=users, as_of=AS_OF, provenance={"mfa_source": "report"})


def test_a_snapshot_rewritten_in_place_moves_the_customer(viewer_client):
    _make_customers(5)
    before = _names(viewer_client)
    best = Customer.objects.get(name=before[-1])

    _collect(best, mfa=0)  # the best covered customer loses every MFA registration today

    assert _names(viewer_client)[0] == best.name


def test_a_renamed_or_new_customer_is_placed_at_once(viewer_client, admin_user):
    _make_customers(3)
    assert _names(viewer_client, sort="name", order="worst")[0] == "Customer 0000"
    customer = Customer.objects.get(name="Customer 0002")

    customer_update(actor=admin_user, customer=customer, name="Aardvark", notes="")
    Customer.objects.create(name="Abacus")  # no snapshot yet: listed too, with the reason

    assert _names(viewer_client, sort="name", order="worst")[:2] == ["Aardvark", "Abacus"]


def test_a_warm_page_reads_only_its_own_rows(viewer_client):
    _make_customers(120)
    _names(viewer_client)  # fills the cache (and the session)

    with CaptureQueriesContext(connection) as captured:
        names = _names(viewer_client, page=2)

    assert len(names) == 50
    # Each customer's latest and previous snapshots are picked for the page's 50 customers only,
    # never for all 120 (the sort order and the averages come from the cache).
    picks = [q["sql"] for q in captured if '"pick"' in q["sql"]]
    assert len(picks) == 2 and all('V0."id" IN (' in sql for sql in picks), picks
    assert len(captured) <= 8
