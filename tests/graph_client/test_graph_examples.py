"""The Graph contract fixtures (tests/fixtures/graph: our own data in the exact
shapes Microsoft documents, see the README there) are the contract: every file
parses through parse.py, and the paging and error samples drive GraphClient
over HTTP mocks. A new fixture file is picked up automatically and fails until
a rule below says how to read it."""

import copy
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
import responses

from integrations.graph import errors, parse
from tests.graph_client.kit import Sleeps, add_login, make_client

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "graph"
FILES = sorted(p.name for p in EXAMPLES.glob("*.json"))
MS_GRAPH = "https://graph.microsoft.com/v1.0"


def load(name):
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def test_the_contract_fixtures_are_there():
    assert len(FILES) >= 30, f"expected the Graph contract fixtures in {EXAMPLES}"


# ------------------------------------------------------------------ one rule per kind of file


def check_message_page(data, name):
    page = parse.message_page(data.get("value"))
    assert page.changed or page.removed
    assert page.skipped == 0
    for record in page.changed:
        assert record.id
        assert all(a.address == a.address.lower() for a in [record.sender, *record.to] if a and a.address)
        assert record.is_read in (True, False, None)
    if name == "message-delta-sequence.4.json":
        assert [r.reason for r in page.removed] == ["deleted"]
        assert page.changed[0].is_read is True  # Microsoft documents "isRead": "true" as a string here
        assert page.changed[0].sender.address == "harrieto@harbourview-dental.example"


def check_delta_sample_without_ids(data, name):
    # message-delta.1 and the calendar samples are heavily shortened in the docs: no ids.
    for item in data["value"]:
        assert parse.parse_message(item) is None and parse.parse_event(item) is None
        record = parse.parse_event(dict(item, id="synthetic"))
        assert record.id == "synthetic" and record.start is None
        # Documented placeholders such as "datetime-value" read as None, not as a crash.
        assert parse.parse_message(dict(item, id="synthetic")).received_at is None


def check_single_message(data, name):
    record = parse.parse_message(data)
    assert record is not None and record.id == data["id"]
    if name == "message-get.1.json":
        assert record.received_at == datetime(2025, 4, 22, 9, 41, 15, tzinfo=timezone.utc)
        assert record.from_ == parse.Address("mareno@larkspurit.onmicrosoft.example", "Maren Oduya")
        assert record.to == [parse.Address("harrieto@harbourview-dental.example", "Harriet Osei")]
        assert record.participants() == {"mareno@larkspurit.onmicrosoft.example", "harrieto@harbourview-dental.example"}
        assert record.is_read is True and record.is_draft is False
        assert not hasattr(record, "body")
    body = parse.parse_message_body(data)
    if "body" in data:
        assert body.content == data["body"]["content"]
        assert body.content_type == data["body"]["contentType"]
    else:
        assert body is None


def check_event(data, name):
    record = parse.parse_event(data)
    assert record.start == datetime(2025, 5, 6, 13, 0, tzinfo=timezone.utc)
    assert record.end == datetime(2025, 5, 6, 13, 45, tzinfo=timezone.utc)
    assert record.organizer.address == "service-desk@larkspurit.onmicrosoft.example"
    assert [(a.address, a.response, a.type) for a in record.attendees] == [
        ("service-desk@larkspurit.onmicrosoft.example", "none", "required"),
        ("owenp@harbourview-dental.example", "none", "required"),
    ]
    assert record.location == "Meeting Room Thames"
    assert not hasattr(record, "body")


def check_organization(data, name):
    org = parse.parse_organization(data)
    assert (org.id, org.display_name) == ("5b7e2a90-3c41-4d8f-9e62-0a1b2c3d4e5f", "Larkspur IT")
    assert org.verified_domains == ["larkspur-it.example"] and org.default_domain == "larkspur-it.example"
    assert parse.parse_organization({"value": [data]}) == org


def check_user(data, name):
    user = parse.parse_user(data)
    assert user is not None
    if "userPrincipalName" in data:
        assert user.user_principal_name == "mareno@larkspur-it.example" and user.id == data["id"]
    else:  # user-get.3 to .6: $select examples without id or UPN
        assert user.id is None
    assert "+44" not in repr(user)  # phone numbers are not part of the record
    assert parse.users_page([data]) == ([user] if user.id else [])


def check_registration(data, name):
    records = parse.registration_page(data["value"])
    assert [r.user_principal_name for r in records] == ["tobiasl@larkspur-it.example", "renatak@larkspur-it.example", "samirh@larkspur-it.example"]
    assert records[0].methods_registered == ["microsoftAuthenticatorPush", "softwareOneTimePasscode"]
    assert records[0].is_mfa_registered is True and records[1].is_mfa_registered is False
    assert records[1].user_type == "guest" and records[1].preferred_secondary_method is None
    assert records[2].preferred_secondary_method == "voiceMobile"
    assert records[0].last_updated == datetime(2025, 4, 7, 6, 2, 19, 441726, tzinfo=timezone.utc)


def check_auth_methods(data, name):
    assert parse.auth_method_types(data) == ["fido2", "windowsHelloForBusiness"]
    assert parse.auth_method_types(data["value"]) == ["fido2", "windowsHelloForBusiness"]
    assert parse.has_mfa_method(parse.auth_method_types(data))


def check_roles(data, name):
    roles = parse.directory_roles_page(data["value"])
    assert roles and all(r.id for r in roles)
    if name == "directoryrole-list.1.json":
        assert roles[0].role_template_id == "62e90394-69f5-4237-9190-012177145e10"
        assert roles[0].display_name == "Global Administrator"


def check_role_members(data, name):
    members = parse.role_members_page(data["value"])
    # Microsoft's documented member shape has neither @odata.type nor id: never counted as a user.
    assert [(m.kind, m.is_user, m.id) for m in members] == [("unknown", False, None)]


def check_batch(data, name):
    items = parse.parse_batch(data)
    assert set(items) == {str(r["id"]) for r in data["responses"]}
    for item in items.values():
        assert isinstance(item.status, int)
        if item.status >= 400:
            error = parse.parse_error(item.body)
            assert error.message
    if name == "batch-response.1.json":
        assert items["3"].status == 403
        assert parse.parse_error(items["3"].body).code == "Authorization_RequestDenied"
        assert parse.parse_error(items["3"].body).request_id == "d41c8b2e-7a95-4f03-9e6d-2b1a0c8f5e37"
        assert parse.parse_error(items["2"].body).code is None  # "" in Microsoft's sample
    else:
        assert items["4"].status == 204 and items["4"].body is None
        assert items["1"].headers["location"].startswith("https://")


def check_error(data, name):
    error = parse.parse_error(data)
    assert error.code and error.message and error.request_id
    if name == "error-TooManyRequests.json":
        assert (error.code, error.request_id) == ("TooManyRequests", "c8e2f4a6-1d3b-4c59-a07e-9b5d3f1e2a84")
    # The older stored version of errors.md spells it "requestId".
    older = copy.deepcopy(data)
    inner = older["error"]["innerError"]
    inner["requestId"] = inner.pop("request-id")
    assert parse.parse_error(older).request_id == error.request_id


RULES = [
    (r"message-delta-sequence\.\d+\.json|user-list-messages\.\d+\.json", check_message_page),
    (r"message-delta\.\d+\.json|event-delta\.\d+\.json|user-list-calendarview\.\d+\.json", check_delta_sample_without_ids),
    (r"message-get\.\d+\.json", check_single_message),
    (r"event-get\.\d+\.json", check_event),
    (r"organization-get\.\d+\.json", check_organization),
    (r"user-get\.\d+\.json", check_user),
    (r"userregistrationdetails-list\.\d+\.json", check_registration),
    (r"authentication-list-methods\.\d+\.json", check_auth_methods),
    (r"directoryrole-list\.\d+\.json", check_roles),
    (r"directoryrole-list-members\.\d+\.json", check_role_members),
    (r"batch-response\.\d+\.json", check_batch),
    (r"error-.+\.json", check_error),
]


@pytest.mark.parametrize("name", FILES)
def test_every_example_parses(name):
    rules = [check for pattern, check in RULES if re.fullmatch(pattern, name)]
    assert rules, f"{name}: new example file; add a rule saying which parse.py function reads it"
    data = load(name)
    for check in rules:
        check(data, name)


# Every parser meets every example (and hostile shapes) without raising.
PARSERS = [
    parse.parse_message, parse.parse_event, parse.parse_removed, parse.message_page, parse.event_page,
    parse.parse_message_body, parse.parse_organization, parse.parse_user, parse.users_page,
    parse.parse_registration, parse.registration_page, parse.auth_method_types, parse.auth_method_type,
    parse.parse_directory_role, parse.directory_roles_page, parse.parse_role_member, parse.role_members_page,
    parse.parse_batch, parse.parse_error, parse.parse_address, parse.parse_datetime, parse.parse_graph_datetime,
    parse.parse_retry_after, parse.token_roles,
]
HOSTILE = [None, 5, "text", [], {}, [None, 1, "x", []], {"value": "x"}, {"value": [1, None, {"id": 5}]},
           {"id": "x", "from": "bob", "toRecipients": {"a": 1}, "start": [], "attendees": [5], "receivedDateTime": 7,
            "isDraft": "maybe", "verifiedDomains": [None, {"name": 3}], "methodsRegistered": ["+1 555 0100", 9, "fido2"],
            "@removed": "yes", "responses": [{"id": True}, {"id": 1, "status": "200", "headers": []}],
            "error": {"innerError": "x"}, "emailAddress": [], "@odata.type": 7}]


def _mutations(data):
    """The example, and copies with each top-level and first-item field set to a wrong type."""
    yield data
    if isinstance(data, dict):
        for key in list(data):
            for bad in (None, 0, "x", [], {}):
                yield {**data, key: bad}
        value = data.get("value")
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for key in list(value[0]):
                for bad in (None, 1, "", [None], {"x": None}):
                    yield {**data, "value": [{**value[0], key: bad}]}


@pytest.mark.parametrize("name", FILES)
def test_parsers_never_crash_on_examples_or_mangled_copies(name):
    for sample in [*_mutations(load(name)), *HOSTILE]:
        for parser in PARSERS:
            parser(sample)
            if isinstance(sample, dict) and isinstance(sample.get("value"), list):
                for item in sample["value"]:
                    parser(item)


def test_method_type_strings_only_survive_registration_parsing():
    record = parse.parse_registration({"id": "u", "methodsRegistered": ["+1 206 555 0100", "Jordan's Surface Book", "fido2", "fido2"]})
    assert record.methods_registered == ["fido2"]


def test_password_and_email_are_not_mfa():
    items = [{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}, {"@odata.type": "#microsoft.graph.emailAuthenticationMethod"}]
    assert parse.auth_method_types(items) == ["password", "email"]
    assert not parse.has_mfa_method(parse.auth_method_types(items))


# ------------------------------------------------------------------ the samples through the client


@pytest.fixture
def graph():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def _serve_sequence(graph, first_url, names):
    """Serve example pages in order: each at the nextLink/deltaLink of the previous one."""
    url = first_url
    for name in names:
        data = load(name)
        query = url.partition("?")[2]
        graph.get(url, json=data, match=[responses.matchers.query_string_matcher(query)] if query else [])
        url = data.get("@odata.nextLink") or data.get("@odata.deltaLink")
    return url


@pytest.mark.parametrize(
    "names",
    [
        ["message-delta-sequence.1.json", "message-delta-sequence.2.json", "message-delta-sequence.3.json"],
        ["message-delta-sequence.5.json", "message-delta-sequence.6.json"],
    ],
)
def test_delta_sequences_follow_microsofts_links_verbatim(graph, names):
    tenant = "larkspurit.onmicrosoft.example"
    add_login(graph, tenant)
    first = f"{MS_GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta"
    final = _serve_sequence(graph, first, names)
    client = make_client(tenant, graph_base_url=MS_GRAPH)

    pages = client.message_delta("jane@msp.example", "inbox", page_size=2)
    records = [r for page in pages for r in parse.message_page(page).changed]

    assert pages.delta_link == final
    assert len(records) == sum(len(load(n)["value"]) for n in names)
    followed = [c.request.url for c in graph.calls if c.request.url.startswith(MS_GRAPH)][1:]
    assert followed == [load(n)["@odata.nextLink"] for n in names[:-1]]


def test_next_round_from_the_delta_link_brings_the_removal(graph):
    tenant = "larkspurit.onmicrosoft.example"
    add_login(graph, tenant)
    delta_link = load("message-delta-sequence.3.json")["@odata.deltaLink"]
    graph.get(delta_link, json=load("message-delta-sequence.4.json"), match=[responses.matchers.query_string_matcher(delta_link.partition("?")[2])])
    pages = make_client(tenant, graph_base_url=MS_GRAPH).message_delta("jane@msp.example", "inbox", delta_link=delta_link)
    page = parse.message_page(next(iter(pages)))
    assert [r.reason for r in page.removed] == ["deleted"]
    assert graph.calls[-1].request.url == delta_link


def test_the_throttling_sample_is_retried_then_reported(graph):
    tenant = "larkspurit.onmicrosoft.example"
    add_login(graph, tenant)
    graph.get(f"{MS_GRAPH}/organization", status=429, headers={"Retry-After": "2.128"}, json=load("error-TooManyRequests.json"))
    graph.get(f"{MS_GRAPH}/organization", json={"value": [load("organization-get.1.json")]})
    sleeps = Sleeps()
    client = make_client(tenant, graph_base_url=MS_GRAPH, sleeps=sleeps)
    assert parse.parse_organization(client.organization_get()).display_name == "Larkspur IT"
    assert sleeps == [2.128]

    graph.replace(responses.GET, f"{MS_GRAPH}/organization", status=429, headers={"Retry-After": "2.128"}, json=load("error-TooManyRequests.json"))
    with pytest.raises(errors.ThrottledError) as caught:
        client.organization_get()
    assert "c8e2f4a6-1d3b-4c59-a07e-9b5d3f1e2a84" in str(caught.value)


def test_event_in_the_documented_shape_becomes_a_utc_record():
    event = {
        "id": "AAMkEV=",
        "iCalUId": "040000008200E0",
        "subject": "Quarterly review",
        "bodyPreview": "Agenda",
        "start": {"dateTime": "2025-05-02T09:00:00.0000000", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2025-05-02T10:00:00.0000000", "timeZone": "UTC"},
        "isAllDay": False,
        "isCancelled": True,
        "organizer": {"emailAddress": {"name": "Jane", "address": "Jane@MSP.example"}},
        "attendees": [{"type": "required", "status": {"response": "accepted"}, "emailAddress": {"name": "Cu Stomer", "address": "CU@Customer.example"}}],
        "location": {"displayName": "Teams"},
        "isOnlineMeeting": True,
        "onlineMeeting": {"joinUrl": "https://teams.microsoft.com/l/meetup-join/x"},
        "webLink": "https://outlook.office365.com/owa/?itemid=x",
        "type": "occurrence",
        "seriesMasterId": "AAMkSM=",
        "body": {"contentType": "html", "content": "<p>never kept</p>"},
    }
    record = parse.parse_event(event)
    assert record.start == datetime(2025, 5, 2, 16, 0, tzinfo=timezone.utc)  # PDT is UTC-7
    assert record.end == datetime(2025, 5, 2, 10, 0, tzinfo=timezone.utc)
    assert record.is_cancelled is True and record.is_all_day is False and record.is_online_meeting is True
    assert record.join_url == "https://teams.microsoft.com/l/meetup-join/x"
    assert (record.type, record.series_master_id) == ("occurrence", "AAMkSM=")
    assert record.organizer == parse.Address("jane@msp.example", "Jane")
    assert record.attendees == [parse.Attendee("cu@customer.example", "Cu Stomer", "required", "accepted")]
    assert record.participants() == {"jane@msp.example", "cu@customer.example"}
    assert "never kept" not in repr(record)


def test_event_times_in_an_unknown_zone_are_none_not_guessed():
    assert parse.parse_graph_datetime({"dateTime": "2025-05-02T09:00:00", "timeZone": "Mars Standard Time"}) is None
    assert parse.parse_graph_datetime({"dateTime": "2025-05-02T09:00:00", "timeZone": "Europe/Paris"}) == datetime(2025, 5, 2, 7, 0, tzinfo=timezone.utc)
    all_day = parse.parse_event({"id": "e", "isAllDay": True, "start": {"dateTime": "2025-05-02T00:00:00.0000000", "timeZone": "UTC"}})
    assert all_day.is_all_day is True and all_day.start == datetime(2025, 5, 2, tzinfo=timezone.utc)


def test_role_members_are_typed_by_odata_type_only():
    members = parse.role_members_page([
        {"@odata.type": "#microsoft.graph.user", "id": "u", "userPrincipalName": "Admin@Contoso.com"},
        {"@odata.type": "#microsoft.graph.group", "id": "g", "userPrincipalName": "looks-like@user.com"},
        {"@odata.type": "#microsoft.graph.servicePrincipal", "id": "s"},
        {"@odata.type": "#microsoft.graph.device", "id": "d"},
    ])
    assert [(m.kind, m.is_user, m.user_principal_name) for m in members] == [
        ("user", True, "admin@contoso.com"), ("group", False, None), ("servicePrincipal", False, None), ("other", False, None),
    ]


def test_retry_after_values():
    assert parse.parse_retry_after("2.128") == 2.128
    assert parse.parse_retry_after("120") == 120.0
    assert parse.parse_retry_after("-3") == 0.0
    assert parse.parse_retry_after("soon") is None and parse.parse_retry_after("nan") is None
    assert parse.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
