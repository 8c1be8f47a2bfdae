"""Graph client: error mapping."""

import pickle

import pytest

from integrations.graph import errors

from .kit import ALL_ROLES, GRAPH, add_discovery, add_token, graph_error, make_client


def _fail(rsps, tenant, url, status, body, roles=ALL_ROLES):
    add_discovery(rsps, tenant)
    add_token(rsps, tenant, roles)
    if isinstance(body, (dict, list)):
        rsps.get(url, status=status, json=body)
    else:
        rsps.get(url, status=status, body=body)


def test_403_names_the_missing_permission(rsps, tenant):
    denied = graph_error("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    _fail(rsps, tenant, f"{GRAPH}/users", 403, denied, roles=["Mail.Read"])
    with pytest.raises(errors.PermissionDeniedError) as caught:
        list(make_client(tenant).users())
    assert caught.value.missing_permission == "User.Read.All"
    assert "User.Read.All" in str(caught.value) and "req-123" in str(caught.value)


def test_registration_report_403_points_at_auditlog_read_all(rsps, tenant):
    url = f"{GRAPH}/reports/authenticationMethods/userRegistrationDetails"
    _fail(rsps, tenant, url, 403, graph_error("Authorization_RequestDenied"), roles=["Reports.Read.All"])
    with pytest.raises(errors.PermissionDeniedError) as caught:
        list(make_client(tenant).registration_details())
    assert caught.value.missing_permission == "AuditLog.Read.All"


def test_registration_report_without_premium_licence(rsps, tenant):
    url = f"{GRAPH}/reports/authenticationMethods/userRegistrationDetails"
    _fail(rsps, tenant, url, 403, graph_error("Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Tenant does not have a SPO license."))
    with pytest.raises(errors.LicenceRequiredError) as caught:
        list(make_client(tenant).registration_details())
    assert isinstance(caught.value, errors.PermissionDeniedError)
    assert "P1 or P2" in str(caught.value)


def test_error_access_denied_with_mail_read_granted_is_a_blocked_mailbox(rsps, tenant):
    url = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta"
    _fail(rsps, tenant, url, 403, graph_error("ErrorAccessDenied", "Access to OData is disabled."))
    with pytest.raises(errors.MailboxBlockedError) as caught:
        list(make_client(tenant).message_delta("jane@msp.example", "inbox"))
    assert isinstance(caught.value, errors.MailboxUnavailableError)


def test_error_access_denied_without_mail_read_is_a_missing_permission(rsps, tenant):
    url = f"{GRAPH}/users/jane@msp.example/mailFolders/inbox/messages/delta"
    _fail(rsps, tenant, url, 403, graph_error("ErrorAccessDenied", "Access is denied."), roles=["User.Read.All"])
    with pytest.raises(errors.PermissionDeniedError) as caught:
        list(make_client(tenant).message_delta("jane@msp.example", "inbox"))
    assert not isinstance(caught.value, errors.MailboxBlockedError)
    assert caught.value.missing_permission == "Mail.Read"


@pytest.mark.parametrize(
    "status,code,cls",
    [
        (404, "MailboxNotEnabledForRESTAPI", errors.MailboxNotFoundError),
        (404, "ErrorInvalidUser", errors.MailboxNotFoundError),
        (404, "ErrorItemNotFound", errors.NotFoundError),
        (410, "Gone", errors.SyncStateExpiredError),
        (400, "syncStateNotFound", errors.SyncStateExpiredError),
        (400, "resyncRequired", errors.SyncStateExpiredError),
        (500, "generalException", errors.TransientError),
        (400, "BadRequest", errors.GraphError),
    ],
)
def test_graph_error_codes_map_to_typed_errors(rsps, tenant, status, code, cls):
    url = f"{GRAPH}/users/jane@msp.example/messages/M1"
    _fail(rsps, tenant, url, status, graph_error(code, request_id="rid-map"))
    with pytest.raises(cls) as caught:
        make_client(tenant).message_body("jane@msp.example", "M1")
    assert type(caught.value) is cls
    assert caught.value.request_id == "rid-map" and caught.value.client_request_id == "cli-456"
    assert "rid-map" in str(caught.value) and caught.value.kind == "message_body"


def test_unknown_upn_on_mailbox_get_is_a_missing_mailbox(rsps, tenant):
    _fail(rsps, tenant, f"{GRAPH}/users/jane@msp.example", 404, graph_error("Request_ResourceNotFound"))
    with pytest.raises(errors.MailboxNotFoundError):
        make_client(tenant).mailbox_get("jane@msp.example")


@pytest.mark.parametrize("body", ['{"value": [{"id": "o"}', "<html>proxy error</html>", "null", "[1, 2]"])
def test_truncated_or_non_json_bodies_are_malformed_responses(rsps, tenant, body):
    _fail(rsps, tenant, f"{GRAPH}/organization", 200, body)
    with pytest.raises(errors.MalformedResponseError):
        make_client(tenant).organization_get()


def test_error_without_graph_ids_keeps_our_client_request_id(rsps, tenant):
    _fail(rsps, tenant, f"{GRAPH}/organization", 400, "plain text")
    with pytest.raises(errors.GraphError) as caught:
        make_client(tenant).organization_get()
    sent = rsps.calls[-1].request.headers["client-request-id"]
    assert caught.value.client_request_id == sent and sent in str(caught.value)


def test_errors_survive_pickling_for_celery():
    error = errors.PermissionDeniedError(403, "Authorization_RequestDenied", "no", "rid", missing_permission="Mail.Read")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.missing_permission, copy.request_id, str(copy)) == (type(error), "Mail.Read", "rid", str(error))
