"""Simulator: mail."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from graphsim import SENTINEL_PREFIX

from .kit import (
    ANCHOR,
    JANE,
    SPEC,
    assert_graph_error,
    delta_url,
    example,
    start,
)


def test_message_delta_rounds_return_only_changes(fresh):
    t = fresh.tenant
    url = delta_url(query="$select=subject,from,receivedDateTime,internetMessageId")
    items, pages, delta_link = fresh.follow(url, headers={"Prefer": "odata.maxpagesize=7"})
    inbox = t.messages(JANE, "inbox")
    assert sorted(i["id"] for i in items) == sorted(m.id for m in inbox)
    assert len(pages) == -(-len(inbox) // 7) and all(len(p["value"]) <= 7 for p in pages)
    assert all("@odata.nextLink" in p for p in pages[:-1]) and delta_link
    assert "$skiptoken=" in pages[0]["@odata.nextLink"] and "$deltatoken=" in delta_link
    assert "$select" not in pages[0]["@odata.nextLink"], "tokens carry the query options"

    added = t.add_message(JANE, "inbox", subject="VPN down again", from_="ops@northwind.example")
    changed = inbox[3]
    t.update_message(JANE, "inbox", changed.id, subject="Updated subject")
    removed = inbox[5]
    t.remove_message(JANE, "inbox", removed.id)
    t.add_message(JANE, "sentitems", subject="Other folder")  # not this folder's change

    items2, _, delta_link2 = fresh.follow(delta_link)
    by_id = {i["id"]: i for i in items2}
    assert set(by_id) == {added.id, changed.id, removed.id}
    assert by_id[removed.id] == {"@odata.type": "#microsoft.graph.message", "id": removed.id, "@removed": {"reason": "deleted"}}
    assert by_id[changed.id]["subject"] == "Updated subject"
    assert by_id[added.id]["from"]["emailAddress"]["address"] == "ops@northwind.example"
    assert set(by_id[added.id]) == {"@odata.type", "@odata.etag", "id", "subject", "from", "receivedDateTime", "internetMessageId"}

    items3, _, _ = fresh.follow(delta_link2)
    assert items3 == []


def test_delta_filter_received_since(live):
    since = ANCHOR - timedelta(days=14)
    query = f"$select=receivedDateTime&$filter=receivedDateTime ge {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    items, pages, _ = live.follow(delta_url(query=query), headers={"Prefer": "odata.maxpagesize=5"})
    expected = [m for m in live.tenant.messages(JANE, "inbox") if m.graph["receivedDateTime"] >= since.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert 0 < len(expected) < len(live.tenant.messages(JANE, "inbox"))
    assert sorted(i["id"] for i in items) == sorted(m.id for m in expected)
    assert len(pages) > 1, "the filter survived the nextLinks"
    assert_graph_error(live.get(delta_url(query="$filter=subject eq 'x'")), 400, "ErrorInvalidUrlQueryFilter")


def test_select_never_leaks_the_body(live):
    select = ("id,internetMessageId,conversationId,subject,bodyPreview,from,sender,toRecipients,ccRecipients,bccRecipients,"
              "receivedDateTime,sentDateTime,isDraft,webLink,parentFolderId")
    for folder in ("inbox", "sentitems"):
        for mailbox in live.tenant.technician_upns:
            resp = live.get(delta_url(mailbox, folder, f"$select={select}"), headers={"Prefer": "odata.maxpagesize=1000"})
            assert resp.status_code == 200
            assert SENTINEL_PREFIX not in resp.text and '"body"' not in resp.text
            for item in resp.json()["value"]:
                assert set(item) == {"@odata.type", "@odata.etag", *select.split(",")}
    with_body = live.get(delta_url(query="$select=subject,body")).json()["value"][0]
    assert SENTINEL_PREFIX in with_body["body"]["content"]
    # Without $select Graph sends every property, the body included: the client must always $select.
    assert SENTINEL_PREFIX in live.get(delta_url(query="")).text


def test_message_body_on_demand(live):
    msg = live.tenant.messages(JANE, "inbox")[0]
    html_resp = live.get(f"/users/{JANE}/messages/{msg.id}?$select=body", headers={"Prefer": 'IdType="ImmutableId"'})
    body = html_resp.json()
    assert set(body) == {"@odata.context", "@odata.etag", "id", "body"}
    assert body["body"]["contentType"] == "html" and msg.sentinel in body["body"]["content"]
    assert 'IdType="ImmutableId"' in html_resp.headers["Preference-Applied"]
    text = live.get(f"/users/{JANE}/messages/{msg.id}?$select=body", headers={"Prefer": 'outlook.body-content-type="text"'})
    assert text.json()["body"]["contentType"] == "text" and "<p>" not in text.json()["body"]["content"]
    assert text.headers["Preference-Applied"] == 'outlook.body-content-type="text"'
    assert_graph_error(live.get(f"/users/{JANE}/messages/AAMkAGnope="), 404, "ErrorItemNotFound")
    assert_graph_error(live.get(f"/users/{JANE}/messages/{msg.id}?$select=nope"), 400, "RequestBroker--ParseUri")


def test_message_shapes_match_examples(live):
    msg = live.tenant.messages(JANE, "inbox")[0]
    full = live.get(f"/users/{JANE}/messages/{msg.id}").json()
    assert set(example("message-get.1.json")) <= set(full)
    three = live.get(f"/users/{JANE}/messages/{msg.id}?$select=subject,body,bodyPreview,uniqueBody").json()
    assert set(three) == set(example("message-get.3.json"))
    page = live.get(delta_url(query="$select=subject,sender,isRead"), headers={"Prefer": "odata.maxpagesize=2"}).json()
    fixture = example("message-delta-sequence.1.json")
    assert set(page) == set(fixture)
    assert all(set(i) == set(fixture["value"][0]) for i in page["value"])
    assert set(example("message-delta.1.json")["value"][0]) <= set(live.get(delta_url(query="")).json()["value"][0])


def test_mailbox_without_exchange_and_access_policy(live):
    err = assert_graph_error(live.get(delta_url("frontdesk@contoso-msp.example")), 404, "MailboxNotEnabledForRESTAPI")
    assert "inactive" in err["message"]
    assert live.get("/users/frontdesk@contoso-msp.example").status_code == 200, "the user itself exists"
    assert_graph_error(live.get(delta_url("nobody@contoso-msp.example")), 404, "ErrorInvalidUser")
    live.sim.faults.set("mailbox_not_enabled", mailboxes=["jack@contoso-msp.example"])
    assert_graph_error(live.get(delta_url("JACK@contoso-msp.example")), 404, "MailboxNotEnabledForRESTAPI")
    live.sim.faults.set("access_policy_block", mailboxes=[JANE])
    err = assert_graph_error(live.get(delta_url()), 403, "ErrorAccessDenied")
    assert err["message"] == "Access to OData is disabled."
    assert_graph_error(live.get(f"/users/{JANE}/calendarView?startDateTime=2025-03-01&endDateTime=2025-03-02"), 403, "ErrorAccessDenied")
    assert live.get(delta_url("priya@contoso-msp.example")).status_code == 200


def test_mailbox_less_technician_by_spec():
    live = start(replace(SPEC, no_mailbox_upns=("tomas@contoso-msp.example",)))
    try:
        assert "tomas@contoso-msp.example" in live.tenant.technician_upns
        assert live.tenant.messages("tomas@contoso-msp.example") == []
        assert_graph_error(live.get(delta_url("tomas@contoso-msp.example")), 404, "MailboxNotEnabledForRESTAPI")
    finally:
        live.running.stop()
