"""Simulator: calendar."""

from __future__ import annotations

import json
from datetime import timedelta

from graphsim import SENTINEL_PREFIX

from .kit import (
    ANCHOR,
    JANE,
    SPEC,
    assert_graph_error,
    example,
)


def window_query(start, end):
    return f"startDateTime={start.strftime('%Y-%m-%dT%H:%M:%SZ')}&endDateTime={end.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def test_calendar_view_window_paging_and_timezone(live):
    start, end = ANCHOR - timedelta(days=7), ANCHOR + timedelta(days=14)
    items, pages, _ = live.follow(f"/users/{JANE}/calendarView?{window_query(start, end)}&$top=4", headers={"Prefer": 'outlook.timezone="UTC"'})
    expected = [
        e for e in live.tenant.events(JANE, include_masters=False)
        if e in live.tenant.events_touching(["contoso-msp.example", *SPEC.customer_domains, "personal-mail.example"], start=start, end=end)
    ]
    assert sorted(i["id"] for i in items) == sorted(e.id for e in expected)
    assert len(pages) > 1 and all(i["type"] != "seriesMaster" for i in items)
    assert all(i["start"]["timeZone"] == "UTC" for i in items)
    assert SENTINEL_PREFIX in json.dumps(items), "calendarView without $select returns bodies, as Graph does"
    fixture_keys = set(example("user-list-calendarview.1.json")["value"][0])
    assert all(fixture_keys <= set(i) for i in items)
    pst = live.get(f"/users/{JANE}/calendarView?{window_query(start, end)}&$select=subject,start,end",
                   headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'})
    first = pst.json()["value"][0]
    assert first["start"]["timeZone"] == "Pacific Standard Time" and set(first) == {"@odata.etag", "id", "subject", "start", "end"}
    utc_first = next(i for i in items if i["id"] == first["id"])
    assert utc_first["start"]["dateTime"] != first["start"]["dateTime"]
    assert_graph_error(live.get(f"/users/{JANE}/calendarView"), 400, "ErrorInvalidParameter")


def test_event_body_and_shape(live):
    event = live.tenant.events(JANE, include_masters=False)[0]
    body = live.get(f"/users/{JANE}/events/{event.id}?$select=body").json()
    assert event.sentinel in body["body"]["content"]
    sel = "subject,body,bodyPreview,organizer,attendees,start,end,location,hideAttendees"
    got = live.get(f"/users/{JANE}/events/{event.id}?$select={sel}", headers={"Prefer": 'outlook.timezone="UTC"'}).json()
    assert set(got) == set(example("event-get.1.json"))
    assert set(got["attendees"][0]) == set(example("event-get.1.json")["attendees"][0])


def test_calendar_delta_rounds(fresh):
    t = fresh.tenant
    start, end = ANCHOR - timedelta(days=7), ANCHOR + timedelta(days=14)
    items, pages, delta_link = fresh.follow(f"/users/{JANE}/calendarView/delta?{window_query(start, end)}", headers={"Prefer": "odata.maxpagesize=5"})
    touching = t.events_touching(["contoso-msp.example", *SPEC.customer_domains, "personal-mail.example"], start=start, end=end)
    in_window = [e for e in t.events(JANE, include_masters=False) if e in touching]
    assert sorted(i["id"] for i in items) == sorted(e.id for e in in_window)
    assert len(pages) > 1 and all(i["@odata.type"] == "#microsoft.graph.event" for i in items)
    assert set(example("event-delta.1.json")["value"][0]) <= set(items[0])
    assert SENTINEL_PREFIX in json.dumps(items), "calendarView/delta ignores $select and returns bodies"

    new = t.add_event(JANE, subject="Fabrikam call", start=ANCHOR + timedelta(days=2), attendees=["cto@fabrikam.example"])
    t.add_event(JANE, subject="Far future", start=ANCHOR + timedelta(days=60))  # outside the fixed window
    gone = in_window[0]
    t.remove_event(JANE, gone.id)
    moved = in_window[1]
    t.update_event(JANE, moved.id, start=ANCHOR + timedelta(days=90), end=ANCHOR + timedelta(days=90, hours=1))
    items2, _, _ = fresh.follow(delta_link)
    by_id = {i["id"]: i for i in items2}
    assert set(by_id) == {new.id, gone.id, moved.id}
    assert by_id[gone.id]["@removed"] == {"reason": "deleted"} and by_id[moved.id]["@removed"] == {"reason": "deleted"}
    assert by_id[new.id]["attendees"][0]["emailAddress"]["address"] == "cto@fabrikam.example"
