"""The per-user MFA enforcement evaluator (security.enforcement): pure, so each
rule is checked on hand-built Graph JSON. Each test names the mistake it catches."""

import pytest

from security.enforcement import (
    CONDITIONAL,
    ENFORCED,
    NOT_ENFORCED,
    STRENGTH_MULTIFACTOR,
    STRENGTH_NOT_MULTIFACTOR,
    STRENGTH_PHISHING_RESISTANT,
    EnforcementInputs,
    Subject,
    evaluate_user,
    mfa_relevant_policies,
    strength_kind,
)

ALICE, BOB, GUEST = "u-alice", "u-bob", "u-guest"
GROUP_OUTER, GROUP_INNER = "g-outer", "g-inner"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
MFA_STRENGTH = {"id": "00000000-0000-0000-0000-000000000002", "displayName": "Multifactor authentication",
                "allowedCombinations": ["windowsHelloForBusiness", "fido2", "deviceBasedPush", "password,microsoftAuthenticatorPush",
                                        "password,sms", "password,softwareOath", "temporaryAccessPassOneTime"]}
PHISH_STRENGTH = {"id": "00000000-0000-0000-0000-000000000004", "displayName": "Phishing-resistant MFA",
                  "allowedCombinations": ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"]}
WEAK_STRENGTH = {"id": "custom-weak", "displayName": "Password or SMS", "allowedCombinations": ["password", "password,sms"]}


def policy(name="Require MFA", *, state="enabled", include_users=("All",), exclude_users=(), include_groups=(),
           exclude_groups=(), include_roles=(), exclude_roles=(), exclude_guests=None, apps=("All",), exclude_apps=(),
           controls=("mfa",), operator="OR", strength=None, **conditions):
    users = {"includeUsers": list(include_users), "excludeUsers": list(exclude_users),
             "includeGroups": list(include_groups), "excludeGroups": list(exclude_groups),
             "includeRoles": list(include_roles), "excludeRoles": list(exclude_roles),
             "includeGuestsOrExternalUsers": None, "excludeGuestsOrExternalUsers": exclude_guests}
    return {
        "id": f"id-{name}", "displayName": name, "state": state,
        "conditions": {"users": users, "applications": {"includeApplications": list(apps),
                                                        "excludeApplications": list(exclude_apps),
                                                        "includeUserActions": []},
                       "clientAppTypes": ["all"], "platforms": None, "locations": None,
                       "userRiskLevels": [], "signInRiskLevels": [], **conditions},
        "grantControls": {"operator": operator, "builtInControls": list(controls), "customAuthenticationFactors": [],
                          "termsOfUse": [], "authenticationStrength": strength},
    }


def inputs(*policies, **kwargs):
    kwargs.setdefault("per_user_read", True)
    return EnforcementInputs(policies=tuple(policies), **kwargs)


def state(policy_list, user=ALICE, user_type="member", **kwargs):
    return evaluate_user(Subject(user, user_type), inputs(*policy_list, **kwargs))


def test_enabled_policy_for_all_users_enforces_and_names_the_policy():
    record = state([policy("CA001 MFA all")])
    assert (record["state"], record["reason"], record["policy_name"], record["policy_id"]) == (
        ENFORCED, "policy", "CA001 MFA all", "id-CA001 MFA all")


def test_report_only_policy_does_not_enforce():
    record = state([policy("Pilot", state="enabledForReportingButNotEnforced")])
    assert record["state"] == NOT_ENFORCED and record["reason"] == "report_only"
    assert record["policy_name"] == "Pilot"


def test_disabled_policy_does_not_enforce():
    record = state([policy("Old", state="disabled")])
    assert (record["state"], record["reason"]) == (NOT_ENFORCED, "disabled")


def test_or_grant_with_a_device_control_is_not_enforcement():
    record = state([policy("MFA or compliant", controls=("mfa", "compliantDevice"), operator="OR")])
    assert (record["state"], record["reason"]) == (NOT_ENFORCED, "or_grant")
    assert "compliant device" in record["detail"]


def test_and_grant_with_a_device_control_is_enforcement():
    assert state([policy("MFA and compliant", controls=("mfa", "compliantDevice"), operator="AND")])["state"] == ENFORCED


def test_excluded_group_member_is_not_enforced_and_the_group_is_named():
    record = state([policy(exclude_groups=(GROUP_OUTER,))], group_members={GROUP_OUTER: {ALICE}},
                   group_names={GROUP_OUTER: "Break glass"})
    assert (record["state"], record["reason"]) == (NOT_ENFORCED, "excluded")
    assert "group Break glass" in record["detail"]
    # A user outside the excluded group is still enforced by the same policy.
    assert state([policy(exclude_groups=(GROUP_OUTER,))], user=BOB, group_members={GROUP_OUTER: {ALICE}})["state"] == ENFORCED


def test_nested_group_member_is_included_through_transitive_membership():
    # The collector resolves transitive members: Alice is in GROUP_INNER, itself in GROUP_OUTER.
    members = {GROUP_OUTER: {ALICE, BOB}, GROUP_INNER: {ALICE}}
    record = state([policy(include_users=(), include_groups=(GROUP_OUTER,))], group_members=members,
                   group_names={GROUP_OUTER: "All staff"})
    assert record["state"] == ENFORCED and "group All staff" in record["detail"]
    assert state([policy(include_users=(), include_groups=(GROUP_OUTER,))], user="u-other",
                 group_members=members)["reason"] == "no_policy"


def test_exclusion_by_user_role_and_guest_type_is_named():
    by_user = state([policy(exclude_users=(ALICE,))])
    assert by_user["reason"] == "excluded" and "by user" in by_user["detail"]
    by_role = state([policy(exclude_roles=(GLOBAL_ADMIN,))], role_members={GLOBAL_ADMIN: {ALICE}},
                    role_names={GLOBAL_ADMIN: "Global Administrator"})
    assert by_role["reason"] == "excluded" and "role Global Administrator" in by_role["detail"]
    guests = {"guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest", "externalTenants": None}
    by_guest = state([policy(exclude_guests=guests)], user=GUEST, user_type="guest")
    assert by_guest["reason"] == "excluded" and "guest type" in by_guest["detail"]
    assert state([policy(exclude_guests=guests)])["state"] == ENFORCED  # members are not guests


def test_policy_on_some_apps_only_is_not_enforcement():
    record = state([policy("Office only", apps=("Office365",))])
    assert (record["state"], record["reason"]) == (NOT_ENFORCED, "some_apps")
    assert state([policy(exclude_apps=("app-1",))])["reason"] == "some_apps"


def test_location_platform_and_risk_conditions_are_conditional_not_guessed():
    for extra in ({"locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}},
                  {"platforms": {"includePlatforms": ["android", "iOS"], "excludePlatforms": []}},
                  {"signInRiskLevels": ["high"]}):
        record = state([policy(**extra)])
        assert (record["state"], record["reason"]) == (CONDITIONAL, "conditional"), extra


def test_not_targeted_user_has_no_policy_reason():
    record = state([policy(include_users=(BOB,))])
    assert (record["state"], record["reason"]) == (NOT_ENFORCED, "no_policy")


def test_best_outcome_wins_over_report_only_and_names_the_enforcing_policy():
    record = state([policy("A report-only", state="enabledForReportingButNotEnforced"), policy("B enforced")])
    assert record["state"] == ENFORCED and record["policy_name"] == "B enforced"
    assert any(note["outcome"] == "report_only" for note in record["policies"])


def test_block_and_device_only_policies_are_not_about_mfa():
    record = state([policy("Block legacy", controls=("block",)), policy("Device", controls=("compliantDevice",))])
    assert record["reason"] == "no_policy"


def test_authentication_strengths():
    assert strength_kind(MFA_STRENGTH) == STRENGTH_MULTIFACTOR
    assert strength_kind(PHISH_STRENGTH) == STRENGTH_PHISHING_RESISTANT
    assert strength_kind(WEAK_STRENGTH) == STRENGTH_NOT_MULTIFACTOR
    strong = state([policy("Phish", controls=(), strength={"id": PHISH_STRENGTH["id"]})],
                   strengths={PHISH_STRENGTH["id"]: PHISH_STRENGTH})
    assert strong["state"] == ENFORCED and "phishing-resistant" in strong["detail"]
    weak = state([policy("Weak", controls=(), strength={"id": "custom-weak"})], strengths={"custom-weak": WEAK_STRENGTH})
    assert weak["reason"] == "no_policy"  # a strength that lets a single factor through is not MFA


def test_security_defaults_and_per_user_mfa():
    assert state([], security_defaults=True)["reason"] == "security_defaults"
    assert state([], security_defaults=False)["reason"] == "no_policy"
    # "enabled" still lets legacy authentication through with the password alone: conditional, not enforced.
    for per_user, expected in (("enforced", ENFORCED), ("enabled", CONDITIONAL), ("disabled", NOT_ENFORCED)):
        assert state([], per_user_mfa={ALICE: per_user})["state"] == expected
    # Per-user MFA enforces even when the only policy is report-only.
    record = state([policy(state="enabledForReportingButNotEnforced")], per_user_mfa={ALICE: "enforced"})
    assert record["reason"] == "per_user_mfa"
    unread = evaluate_user(Subject(ALICE), EnforcementInputs(per_user_read=False))
    assert "could not be read" in unread["detail"]


def test_mfa_relevant_policies_for_the_pack():
    kept = mfa_relevant_policies([policy("Z mfa"), policy("Block", controls=("block",)), policy("A mfa")], {})
    assert [p["displayName"] for p in kept] == ["A mfa", "Z mfa"]


@pytest.mark.parametrize("bad", [
    None, "x", 3, {"grantControls": "x"}, {"conditions": None, "grantControls": {"builtInControls": ["mfa"]}},
    {"conditions": {"users": "x", "applications": [1]}, "grantControls": {"builtInControls": "mfa", "operator": 5}},
    {"conditions": {"users": {"includeUsers": "All", "includeGroups": [None, 3]}, "locations": "x", "clientAppTypes": "x"},
     "grantControls": {"builtInControls": ["mfa"], "authenticationStrength": {"id": "s"}}, "state": ["enabled"]},
])
def test_hostile_policy_json_never_raises(bad):
    evaluate_user(Subject(ALICE), EnforcementInputs(policies=(bad,)))
