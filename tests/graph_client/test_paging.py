"""Graph client: paging."""

from datetime import datetime, timedelta, timezone

import pytest
from responses import matchers

from integrations.graph import errors
from integrations.graph.client import EVENT_FIELDS, MESSAGE_FIELDS

from .kit import GRAPH, JANE_ID, add_login, make_client


def test_paging_follows_next_links_verbatim_through_empty_pages_to_the_delta_link(rsps, tenant):
    add_login(rsps, tenant)
    first = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta"
    # Links as Graph writes them; the client must not rebuild or re-encode them.
    link2 = f"{GRAPH}/users('{JANE_ID}')/mailFolders('inbox')/messages/delta?$skiptoken=Gw1%2BaB-_x&$select=id"
    link3 = f"{GRAPH}/users('{JANE_ID}')/mailFolders('inbox')/messages/delta?$skiptoken=Gw2"
    delta = f"{GRAPH}/users('{JANE_ID}')/mailFolders('inbox')/messages/delta?$deltatoken=Dt9"
    rsps.get(first, json={"value": [{"id": "m1"}, {"id": "m2"}], "@odata.nextLink": link2})
    rsps.get(link2, json={"value": [], "@odata.nextLink": link3})
    rsps.get(link3, json={"value": [{"id": "m3", "@removed": {"reason": "deleted"}}], "@odata.deltaLink": delta})
    client = make_client(tenant, known_mailbox_ids={JANE_ID: "jane@msp.example"})

    pages = client.message_delta("jane@msp.example", "inbox", page_size=2)
    assert len(rsps.calls) == 0  # lazy until iterated
    seen = [[item["id"] for item in page] for page in pages]

    assert seen == [["m1", "m2"], [], ["m3"]]
    assert pages.delta_link == delta
    assert (pages.pages, pages.items) == (3, 3)
    graph_calls = [c.request for c in rsps.calls if c.request.url.startswith(GRAPH)]
    assert [r.url for r in graph_calls[1:]] == [link2, link3]
    first_request = graph_calls[0]
    assert first_request.params == {"$select": MESSAGE_FIELDS}
    assert "body" not in first_request.params["$select"].split(",")
    for request in graph_calls:
        assert request.headers["Prefer"] == 'IdType="ImmutableId", odata.maxpagesize=2'
    assert client.counters.requests["message_delta"] == 3


def test_delta_resumes_from_the_stored_link_without_adding_options(rsps, tenant):
    add_login(rsps, tenant)
    delta = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta?$deltatoken=Dt9"
    new_delta = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta?$deltatoken=Dt10"
    rsps.get(delta, json={"value": [], "@odata.deltaLink": new_delta}, match=[matchers.query_string_matcher("$deltatoken=Dt9")])
    pages = make_client(tenant).message_delta("jane@msp.example", "inbox", delta_link=delta)
    assert list(pages) == [[]]
    assert pages.delta_link == new_delta
    assert rsps.calls[-1].request.url == delta


def test_received_since_filters_the_initial_delta(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(
        f"{GRAPH}/users/jane@msp.example/mailFolders/sentitems/messages/delta",
        json={"value": [], "@odata.deltaLink": f"{GRAPH}/x?$deltatoken=1"},
        match=[matchers.query_param_matcher({"$select": MESSAGE_FIELDS, "$filter": "receivedDateTime ge 2025-04-17T00:00:00Z"})],
    )
    since = datetime(2025, 4, 17, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    list(make_client(tenant).message_delta("jane@msp.example", "sentitems", received_since=since))


def test_a_next_link_to_another_host_is_never_followed(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/users", json={"value": [{"id": "u1"}], "@odata.nextLink": "https://attacker.example/steal?token=1"})
    pages = make_client(tenant).users()
    with pytest.raises(errors.MalformedResponseError):
        list(pages)
    assert not any("attacker" in c.request.url for c in rsps.calls)


def test_a_repeating_next_link_is_a_malformed_response(rsps, tenant):
    add_login(rsps, tenant)
    loop = f"{GRAPH}/users?$skiptoken=same"
    first_page = matchers.query_param_matcher({"$select": "id,userPrincipalName,displayName,accountEnabled,userType", "$top": "999"})
    rsps.get(f"{GRAPH}/users", json={"value": [], "@odata.nextLink": loop}, match=[first_page])
    rsps.get(loop, json={"value": [], "@odata.nextLink": loop})
    with pytest.raises(errors.MalformedResponseError):
        list(make_client(tenant).users())


def test_calendar_view_asks_for_utc_immutable_ids_and_no_body(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(
        f"{GRAPH}/users/jane@msp.example/calendarView",
        json={"value": [{"id": "e1"}]},
        match=[
            matchers.query_param_matcher(
                {"startDateTime": "2025-05-01T00:00:00Z", "endDateTime": "2025-05-15T00:00:00Z", "$select": EVENT_FIELDS, "$top": "50"}
            ),
            matchers.header_matcher({"Prefer": 'IdType="ImmutableId", outlook.timezone="UTC"'}),
        ],
    )
    start = datetime(2025, 5, 1, tzinfo=timezone.utc)
    pages = make_client(tenant).calendar_view("jane@msp.example", start, start + timedelta(days=14))
    assert [e["id"] for page in pages for e in page] == ["e1"]
    assert pages.delta_link is None
    assert "body" not in EVENT_FIELDS.split(",")


def test_message_body_selects_only_the_body_with_immutable_ids(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(
        f"{GRAPH}/users/jane@msp.example/messages/AAMk%2Fid=",
        json={"body": {"contentType": "html", "content": "<b>x</b>"}},
        match=[
            matchers.query_param_matcher({"$select": "body"}),
            matchers.header_matcher({"Prefer": 'IdType="ImmutableId", outlook.body-content-type="html"'}),
        ],
    )
    body = make_client(tenant).message_body("jane@msp.example", "AAMk/id=")
    assert body["body"]["content"] == "<b>x</b>"
