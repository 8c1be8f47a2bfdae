"""Graph client: $batch and directory."""

import json

import pytest
import responses
from responses import matchers

from integrations.graph import errors

from .kit import GRAPH, JANE_ID, Sleeps, add_login, graph_error, make_client


def _batch_callback(answers):
    """answers: user_id -> list of (status, headers, body) to give on each round."""

    def callback(request):
        payload = json.loads(request.body)
        assert len(payload["requests"]) <= 20
        responses_ = []
        for item in payload["requests"]:
            user_id = item["url"].split("/")[2]
            status, headers, body = answers[user_id].pop(0)
            responses_.append({"id": item["id"], "status": status, "headers": headers, "body": body})
        return 200, {"Content-Type": "application/json"}, json.dumps({"responses": list(reversed(responses_))})

    return callback


def test_auth_methods_batch_groups_by_20_retries_item_429_and_keeps_only_types(rsps, tenant):
    add_login(rsps, tenant)
    users = [f"user-{n:02d}" for n in range(25)]
    methods = {
        "value": [
            {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "3179e48a", "phoneNumber": "+1 2065555555", "phoneType": "mobile"},
            {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "-2_G", "displayName": "Red key", "model": "NFC key"},
        ]
    }
    answers = {u: [(200, {}, methods)] for u in users}
    answers["user-03"] = [(429, {"Retry-After": "3"}, graph_error("TooManyRequests")), (200, {}, {"value": []})]
    answers["user-07"] = [(403, {}, graph_error("Authorization_RequestDenied", request_id="rid-7"))]
    rsps.add_callback(responses.POST, f"{GRAPH}/$batch", callback=_batch_callback(answers))
    sleeps = Sleeps()
    client = make_client(tenant, sleeps=sleeps)

    result = client.auth_methods_batch(users)

    assert set(result) == set(users)
    assert result["user-00"] == [
        {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod"},
        {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod"},
    ]
    assert "2065555555" not in json.dumps([v for v in result.values() if isinstance(v, list)])
    assert result["user-03"] == []
    assert isinstance(result["user-07"], errors.PermissionDeniedError) and result["user-07"].request_id == "rid-7"
    assert sleeps == [3.0]
    assert client.counters.requests["batch"] == 3  # 20 + 5, then the throttled item again
    assert client.counters.batch_items == 26
    assert client.counters.throttled == 1


@pytest.mark.parametrize("status,cls", [(429, errors.ThrottledError), (503, errors.TransientError)])
def test_auth_methods_batch_gives_up_on_a_persistently_throttled_item(rsps, tenant, status, cls):
    add_login(rsps, tenant)
    throttled = [(status, {"Retry-After": "2"}, graph_error("TooManyRequests", request_id="rid-b"))] * 10
    rsps.add_callback(responses.POST, f"{GRAPH}/$batch", callback=_batch_callback({"u1": throttled}))
    sleeps = Sleeps()
    result = make_client(tenant, sleeps=sleeps).auth_methods_batch(["u1"])
    assert type(result["u1"]) is cls and result["u1"].request_id == "rid-b"
    assert sleeps == [2.0, 2.0, 2.0]


def test_directory_roles_and_members(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/directoryRoles", json={"value": [{"id": "r1", "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10"}]})
    rsps.get(
        f"{GRAPH}/directoryRoles/r1/members",
        json={"value": [{"@odata.type": "#microsoft.graph.user", "id": "u1"}, {"@odata.type": "#microsoft.graph.group", "id": "g1"}]},
        match=[matchers.query_param_matcher({"$select": "id,displayName,userPrincipalName"})],
    )
    client = make_client(tenant)
    roles = client.directory_roles()
    members = [m for page in client.role_members(roles[0]["id"]) for m in page]
    assert [m["id"] for m in members] == ["u1", "g1"]
    assert client.counters.requests["directory_roles"] == 1
    assert client.counters.requests["role_members"] == 1


def test_counters_by_endpoint_kind(rsps, tenant):
    add_login(rsps, tenant)
    rsps.get(f"{GRAPH}/organization", json={"value": [{"id": "o"}]})
    rsps.get(f"{GRAPH}/users/jane@msp.example", json={"id": JANE_ID})
    rsps.get(f"{GRAPH}/reports/authenticationMethods/userRegistrationDetails", json={"value": []})
    client = make_client(tenant)
    client.organization_get()
    client.mailbox_get("jane@msp.example")
    list(client.registration_details())
    assert client.counters.as_dict() == {
        "requests": {"token": 2, "organization": 1, "user": 1, "registration_report": 1},
        "total_requests": 5,
        "retries": 0,
        "throttled": 0,
        "throttled_wait_seconds": 0.0,
        "network_errors": 0,
        "token_refreshes": 0,
        "batch_items": 0,
    }
