"""Graph client: allow-list."""

from datetime import datetime, timedelta, timezone

import pytest
from responses import matchers

from integrations.graph import errors

from .kit import ALLOWED, GRAPH, JANE_ID, Provider, add_login, make_client


def _mailbox_calls(client, mailbox):
    start = datetime(2025, 5, 1, tzinfo=timezone.utc)
    return [
        lambda: client.mailbox_get(mailbox),
        lambda: client.message_delta(mailbox, "inbox"),
        lambda: client.message_body(mailbox, "AAMkAD="),
        lambda: client.calendar_view(mailbox, start, start + timedelta(days=14)),
        lambda: client.event_body(mailbox, "AAMkEV="),
    ]


@pytest.mark.parametrize("mailbox", ["eve@msp.example", "JANE@other.example", JANE_ID, "", "me"])
def test_off_list_mailbox_is_refused_before_any_request_or_token(rsps, tenant, mailbox):
    provider = Provider()
    client = make_client(tenant, provider=provider)
    for call in _mailbox_calls(client, mailbox):
        with pytest.raises(errors.MailboxNotAllowed) as caught:
            call()
        assert "not on the Technician Mailboxes list" in str(caught.value)
    assert len(rsps.calls) == 0
    assert provider.calls == 0
    assert client.counters.total_requests == 0


def test_allow_list_is_case_insensitive_and_ids_resolve_through_mailbox_get(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(
        f"{GRAPH}/users/jack@msp.example",
        json={"id": JANE_ID, "userPrincipalName": "Jack@msp.example", "displayName": "Jack", "mail": "jack@msp.example"},
        match=[matchers.query_param_matcher({"$select": "id,displayName,userPrincipalName,mail"})],
    )
    rsps.get(f"{GRAPH}/users/{JANE_ID}/messages/M1", json={"body": {"contentType": "html", "content": "<p>hi</p>"}})
    client = make_client(tenant)
    with pytest.raises(errors.MailboxNotAllowed):
        client.message_body(JANE_ID, "M1")  # id not resolved yet
    client.mailbox_get("jack@msp.example")
    assert client.message_body(JANE_ID, "M1")["body"]["content"] == "<p>hi</p>"
    assert client.mailbox_ids == {JANE_ID: "jack@msp.example"}


def test_allow_list_changes_are_seen_immediately(rsps, tenant):
    current = list(ALLOWED)
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/users/jane@msp.example", json={"id": JANE_ID, "userPrincipalName": "jane@msp.example"})
    client = make_client(tenant, allowed=lambda: current)
    client.mailbox_get("jane@msp.example")
    current.remove("jane@msp.example")
    calls_before = len(rsps.calls)
    for mailbox in ("jane@msp.example", JANE_ID):
        with pytest.raises(errors.MailboxNotAllowed):
            client.message_body(mailbox, "M1")
    assert len(rsps.calls) == calls_before


def test_known_mailbox_ids_from_storage_are_accepted(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/users/{JANE_ID}/events/E1", json={"body": {"contentType": "html", "content": "x"}})
    client = make_client(tenant, known_mailbox_ids={JANE_ID: "jane@msp.example"})
    client.event_body(JANE_ID, "E1")
    prefer = rsps.calls[-1].request.headers["Prefer"]
    assert 'IdType="ImmutableId"' in prefer and 'outlook.timezone="UTC"' in prefer


def test_a_delta_link_naming_another_mailbox_is_refused(rsps, tenant):
    client = make_client(tenant)
    link = f"{GRAPH}/users/eve@msp.example/mailFolders('inbox')/messages/delta?$deltatoken=abc"
    with pytest.raises(errors.MailboxNotAllowed):
        client.message_delta("jane@msp.example", "inbox", delta_link=link)
    foreign = "https://evil.example/v1.0/users/jane@msp.example/mailFolders/inbox/messages/delta?$deltatoken=abc"
    with pytest.raises(errors.MalformedResponseError):
        client.message_delta("jane@msp.example", "inbox", delta_link=foreign)
    assert len(rsps.calls) == 0
