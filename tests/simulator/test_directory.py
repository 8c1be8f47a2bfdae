"""Simulator: directory endpoints."""

from __future__ import annotations

from .kit import (
    GLOBAL_ADMIN,
    JANE,
    assert_graph_error,
    example,
)


def test_users_get_select_list_and_404(live):
    resp = live.get(f"/users/{JANE.upper()}?$select=id,displayName,userPrincipalName,mail")
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"@odata.context", "id", "displayName", "userPrincipalName", "mail"}
    assert body["mail"] == JANE and body["@odata.context"].endswith("#users(id,displayName,userPrincipalName,mail)/$entity")
    by_id = live.get(f"/users/{body['id']}").json()
    assert set(by_id) - {"@odata.context"} == set(example("user-get.1.json"))
    selected = live.get(f"/users/{body['id']}?$select=displayName,givenName,postalCode,identities").json()
    assert set(selected) == set(example("user-get.3.json")), "no id unless selected, nulls for empty properties"
    guest = next(u for u in live.tenant.users if u.kind == "guest")
    assert live.get("/users/" + guest.upn.replace("#", "%23")).json()["userPrincipalName"] == guest.upn
    assert_graph_error(live.get("/users/nobody@contoso-msp.example"), 404, "Request_ResourceNotFound")
    assert_graph_error(live.get(f"/users/{JANE}?$select=noSuchProperty"), 400, "Request_BadRequest")
    items, pages, _ = live.follow("/users?$top=7&$select=id,userPrincipalName,accountEnabled,userType")
    assert len(items) == len(live.tenant.users) and len(pages) == -(-len(items) // 7)
    assert all(set(i) == {"id", "userPrincipalName", "accountEnabled", "userType"} for i in items)
    guests = live.get("/users?$filter=userType eq 'Guest'").json()["value"]
    assert guests and all(g["userPrincipalName"].count("#EXT#") == 1 for g in guests)


def test_organization_shape(live):
    body = live.get("/organization").json()
    assert set(body) == {"@odata.context", "value"}
    assert set(body["value"][0]) == set(example("organization-get.1.json")) - {"@odata.context"}
    assert set(body["value"][0]["verifiedDomains"][0]) == set(example("organization-get.1.json")["verifiedDomains"][0])


def test_registration_details_paging_shape_and_unlicensed(live):
    items, pages, _ = live.follow("/reports/authenticationMethods/userRegistrationDetails")
    assert len(items) == len(live.tenant.users) and len(pages) == 2  # 50 per page by default
    fixture_item = example("userregistrationdetails-list.1.json")["value"][0]
    assert all(set(i) == set(fixture_item) for i in items)
    assert pages[0]["@odata.context"].endswith("#reports/authenticationMethods/userRegistrationDetails")
    admins = live.get("/reports/authenticationMethods/userRegistrationDetails?$filter=isAdmin eq true").json()["value"]
    assert admins and all(a["isAdmin"] for a in admins)
    live.sim.faults.set("unlicensed_report")
    assert_graph_error(
        live.get("/reports/authenticationMethods/userRegistrationDetails"), 403,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    )


def test_authentication_methods_shape(live):
    fixture = {m["@odata.type"]: set(m) for m in example("authentication-list-methods.1.json")["value"]}
    # Microsoft's documented sample spells fido2's createdDateTime "creationDateTime" (see tests/fixtures/graph/README.md).
    fixture["#microsoft.graph.fido2AuthenticationMethod"] = (fixture["#microsoft.graph.fido2AuthenticationMethod"] - {"creationDateTime"}) | {"createdDateTime"}
    seen = set()
    for user in live.tenant.users:
        body = live.get(f"/users/{user.id}/authentication/methods").json()
        assert body["@odata.context"].endswith(f"#users('{user.id}')/authentication/methods")
        for m in body["value"]:
            seen.add(m["@odata.type"])
            if m["@odata.type"] in fixture:
                assert set(m) == fixture[m["@odata.type"]]
    assert set(fixture) <= seen
    assert "#microsoft.graph.phoneAuthenticationMethod" in seen and "#microsoft.graph.passwordAuthenticationMethod" in seen


def test_directory_roles_and_members(live):
    body = live.get("/directoryRoles").json()
    assert body["@odata.context"].endswith("#directoryRoles")
    assert all(set(r) == set(example("directoryrole-list.1.json")["value"][0]) for r in body["value"])
    ga = next(r for r in body["value"] if r["roleTemplateId"] == GLOBAL_ADMIN)
    by_id = live.get(f"/directoryRoles/{ga['id']}/members").json()
    by_template = live.get(f"/directoryRoles/roleTemplateId={GLOBAL_ADMIN}/members").json()
    odata_form = live.get(f"/directoryRoles(roleTemplateId='{GLOBAL_ADMIN}')/members").json()
    assert by_id["value"] == by_template["value"] == odata_form["value"]
    fixture_member = set(example("directoryrole-list-members.1.json")["value"][0])
    users = [m for m in by_id["value"] if m["@odata.type"] == "#microsoft.graph.user"]
    assert users and all(fixture_member | {"@odata.type", "id"} <= set(m) for m in users)
    all_types = set()
    for role in body["value"]:
        all_types |= {m["@odata.type"] for m in live.get(f"/directoryRoles/{role['id']}/members").json()["value"]}
    assert {"#microsoft.graph.group", "#microsoft.graph.servicePrincipal"} <= all_types
    assert_graph_error(live.get("/directoryRoles/00000000-0000-0000-0000-000000000000/members"), 404, "Request_ResourceNotFound")


def test_unknown_route_and_me(live):
    assert_graph_error(live.get("/nothingHere"), 400, "BadRequest")
    assert_graph_error(live.get("/me/messages"), 400, "BadRequest")
