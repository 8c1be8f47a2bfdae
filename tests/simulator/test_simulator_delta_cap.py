"""The simulator models Graph's cap on filtered message delta, and the folder
listing the sync fills the rest of the window from.

Microsoft's message delta reference: "Applying $filter in a delta query
returns only up to 5,000 messages." The round still ends with a delta link,
which is exactly what makes the loss silent. No database.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from graphsim import TenantSpec, build_tenant
from tests.simulator.kit import assert_graph_error, start

ANCHOR = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
BUSY = 5600  # just over the cap, to keep the module quick
SPEC = TenantSpec(anchor=ANCHOR, technicians=2, messages_per_mailbox=20, events_per_mailbox=2, busy_inbox_messages=BUSY)
BUSY_UPN = SPEC.technician_upns()[-1]
SINCE = (ANCHOR - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
SELECT = "$select=id,subject,receivedDateTime"


@pytest.fixture(scope="module")
def busy():
    live = start(SPEC)
    yield live
    live.running.stop()


@pytest.fixture(scope="module")
def busy_uncapped():
    live = start(SPEC, delta_filter_cap=None)
    yield live
    live.running.stop()


def in_window(live):
    return [r for r in live.tenant.messages(BUSY_UPN, "inbox") if r.graph["receivedDateTime"] >= SINCE]


def delta(live, query):
    return live.follow(f"/users/{BUSY_UPN}/mailFolders/inbox/messages/delta?{query}",
                       headers={"Prefer": "odata.maxpagesize=1000"})


def test_busy_inbox_knob_puts_its_messages_inside_the_look_back():
    tenant = build_tenant(SPEC)
    busy = [r for r in tenant.messages(BUSY_UPN, "inbox") if "BUSY" in r.graph["internetMessageId"]]
    assert len(busy) == BUSY
    assert all(r.graph["receivedDateTime"] >= SINCE for r in busy)
    domains = SPEC.customer_domains
    assert len(tenant.messages_touching(domains, mailboxes=[BUSY_UPN], since=SINCE)) > BUSY // 3
    assert not [r for r in build_tenant(TenantSpec(anchor=ANCHOR)).all_messages() if "BUSY" in r.graph["internetMessageId"]]


def test_filtered_initial_round_stops_at_5000_and_still_hands_out_a_delta_link(busy):
    window = in_window(busy)
    assert len(window) > 5000
    items, pages, delta_link = delta(busy, f"{SELECT}&$filter=receivedDateTime ge {SINCE}")
    assert len(items) == 5000
    assert len({i["id"] for i in items}) == 5000
    assert delta_link, "the capped round looks complete: it ends with a delta link"
    assert "@odata.nextLink" not in pages[-1]
    # The next round returns only what changed since: the rest is never sent.
    again, _, _ = busy.follow(delta_link)
    assert again == []


def test_cap_holds_at_any_page_size_and_only_for_filtered_rounds(busy):
    items, pages, delta_link = busy.follow(
        f"/users/{BUSY_UPN}/mailFolders/inbox/messages/delta?{SELECT}&$filter=receivedDateTime ge {SINCE}",
        headers={"Prefer": "odata.maxpagesize=333"},
    )
    assert len(items) == 5000 and delta_link and len(pages) == 16
    unfiltered, _, _ = delta(busy, SELECT)
    assert len(unfiltered) == len(busy.tenant.messages(BUSY_UPN, "inbox")) > 5000


def test_uncapped_simulator_serves_every_item(busy_uncapped):
    items, _, delta_link = delta(busy_uncapped, f"{SELECT}&$filter=receivedDateTime ge {SINCE}")
    assert len(items) == len(in_window(busy_uncapped)) and delta_link


def test_folder_listing_filters_orders_and_pages(busy):
    window = in_window(busy)
    url = (f"/users/{BUSY_UPN}/mailFolders/inbox/messages?{SELECT}&$filter=receivedDateTime ge {SINCE}"
           "&$orderby=receivedDateTime desc&$top=1000")
    items, pages, delta_link = busy.follow(url)
    assert delta_link is None and len(pages) == -(-len(window) // 1000)
    assert [i["id"] for i in items] == [r.id for r in sorted(window, key=lambda r: (r.graph["receivedDateTime"], r.id), reverse=True)]
    assert all("body" not in i for i in items), "no body unless selected"
    # A closed interval and ascending order.
    upper = (ANCHOR - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ascending, _, _ = busy.follow(f"/users/{BUSY_UPN}/mailFolders/inbox/messages?{SELECT}"
                                  f"&$filter=receivedDateTime ge {SINCE} and receivedDateTime lt {upper}"
                                  "&$orderby=receivedDateTime&$top=500")
    times = [i["receivedDateTime"] for i in ascending]
    assert times == sorted(times) and all(SINCE <= t < upper for t in times) and times


def test_folder_listing_sends_the_body_when_not_told_otherwise(busy):
    resp = busy.get(f"/users/{BUSY_UPN}/mailFolders/inbox/messages?$top=2")
    assert resp.status_code == 200
    assert all("body" in i for i in resp.json()["value"]), "Graph's default properties include the body"


@pytest.mark.parametrize("query, status, code", [
    ("$top=1001", 400, "ErrorInvalidUrlQuery"),
    ("$top=0", 400, "ErrorInvalidUrlQuery"),
    ("$filter=subject eq 'x'", 400, "ErrorInvalidUrlQueryFilter"),
    ("$orderby=subject", 400, "ErrorInvalidUrlQueryOrderBy"),
    ("$select=body2", 400, "RequestBroker--ParseUri"),
])
def test_folder_listing_refuses_what_it_does_not_serve(busy, query, status, code):
    assert_graph_error(busy.get(f"/users/{BUSY_UPN}/mailFolders/inbox/messages?{query}"), status, code)
