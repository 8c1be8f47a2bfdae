"""The fake tenant's MFA enforcement: groups (one nested), Conditional Access
policies, authentication strengths, Security Defaults and per-user MFA states.

Built so that every enforcement outcome Vectis explains has a user made to
produce it; `tenant.enforcement_cases` maps each outcome to that user's id,
so tests can look the user up rather than guess. Shapes follow Microsoft's
v1.0 reference (conditionalAccessPolicy, authenticationStrengthPolicy,
identitySecurityDefaultsEnforcementPolicy) and the beta
strongAuthenticationRequirements resource.

With `spec.security_defaults` the tenant has Security Defaults on and no
Conditional Access policies (Entra ID allows only one of the two).
"""

from __future__ import annotations

from .directory import ROLE_TEMPLATES, guid_for, rng_for
from .tenant import Tenant

BUILT_IN_STRENGTHS = (
    ("00000000-0000-0000-0000-000000000002", "Multifactor authentication",
     "Combinations of methods that satisfy strong authentication, such as a password + SMS",
     ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor", "deviceBasedPush", "temporaryAccessPassOneTime",
      "temporaryAccessPassMultiUse", "password,microsoftAuthenticatorPush", "password,softwareOath", "password,hardwareOath",
      "password,sms", "password,voice", "federatedMultiFactor", "microsoftAuthenticatorPush,federatedSingleFactor",
      "softwareOath,federatedSingleFactor", "hardwareOath,federatedSingleFactor", "sms,federatedSingleFactor",
      "voice,federatedSingleFactor"]),
    ("00000000-0000-0000-0000-000000000003", "Passwordless MFA",
     "Passwordless methods that satisfy strong authentication, such as Passwordless sign-in with the Microsoft Authenticator",
     ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor", "deviceBasedPush"]),
    ("00000000-0000-0000-0000-000000000004", "Phishing-resistant MFA",
     "Phishing-resistant, Passwordless methods for the strongest authentication, such as a FIDO2 security key",
     ["windowsHelloForBusiness", "fido2", "x509CertificateMultiFactor"]),
)
PHISHING_RESISTANT_STRENGTH_ID = "00000000-0000-0000-0000-000000000004"
ADMIN_ROLES = ("Global Administrator", "Exchange Administrator", "User Administrator", "Helpdesk Administrator")
# Outcome -> which scenario user produces it (see _cases).
CASES = (
    "nested_group", "excluded_group", "excluded_user", "excluded_role", "report_only", "disabled", "or_grant",
    "some_apps", "conditional", "per_user_enforced", "per_user_enabled", "no_policy",
)


def populate_enforcement(tenant: Tenant) -> None:
    tenant.auth_strengths = [_strength(*s) for s in BUILT_IN_STRENGTHS]
    tenant.security_defaults = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity",
        "id": "00000000-0000-0000-0000-000000000005",
        "displayName": "Security Defaults",
        "description": "Security defaults is a set of basic identity security mechanisms recommended by Microsoft.",
        "isEnabled": bool(tenant.spec.security_defaults),
    }
    cases = _cases(tenant)
    tenant.enforcement_cases = cases
    tenant.per_user_mfa = {u.id: "disabled" for u in tenant.users}
    for case, state in (("per_user_enforced", "enforced"), ("per_user_enabled", "enabled")):
        if case in cases:
            tenant.per_user_mfa[cases[case]] = state
    _groups(tenant, cases)
    _privileged_extras(tenant, cases)
    tenant.ca_policies = [] if tenant.spec.security_defaults else _policies(tenant, cases)
    _filler(tenant)


def _strength(strength_id, name, description, combinations):
    return {
        "id": strength_id,
        "createdDateTime": "2021-12-01T00:00:00Z",
        "modifiedDateTime": "2021-12-01T00:00:00Z",
        "displayName": name,
        "description": description,
        "policyType": "builtIn",
        "requirementsSatisfied": "mfa",
        "allowedCombinations": list(combinations),
        "combinationConfigurations@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#policies/authenticationStrengthPolicies('{strength_id}')/combinationConfigurations",
        "combinationConfigurations": [],
    }


def _role_user_ids(tenant, names):
    return {m["id"] for r in tenant.roles if r.graph["displayName"] in names for m in r.members
            if m["@odata.type"] == "#microsoft.graph.user"}


def _cases(tenant):
    """One enabled member customer user per case, none of them in a role."""
    in_roles = _role_user_ids(tenant, set(ROLE_TEMPLATES))
    pool = [u for u in tenant.users if u.kind == "customer" and u.graph["accountEnabled"] and u.id not in in_roles]
    cases = {case: user.id for case, user in zip([c for c in CASES if c not in ("excluded_user", "excluded_role")], pool, strict=False)}
    # Excluded by role: an enabled Directory Readers holder (not privileged), left in All Staff.
    enabled = {u.id for u in tenant.users if u.graph["accountEnabled"]}
    readers = sorted(_role_user_ids(tenant, {"Directory Readers"}) & enabled)
    if readers:
        cases["excluded_role"] = readers[0]
    admins = sorted((_role_user_ids(tenant, set(ADMIN_ROLES)) & enabled) - {u.id for u in tenant.users if u.kind != "customer"})
    if admins:
        cases["excluded_user"] = admins[0]
    return cases


def _group(tenant, key, name, members, *, assignable=False):
    graph = {
        "id": guid_for(tenant, "group", key),
        "displayName": name,
        "description": None,
        "groupTypes": [],
        "isAssignableToRole": assignable,
        "mailEnabled": False,
        "mailNickname": key,
        "securityEnabled": True,
        "visibility": "Private",
    }
    tenant.groups[graph["id"]] = {"graph": graph, "members": list(members)}
    return graph["id"]


def _groups(tenant, cases):
    """All Staff (every enabled member customer user outside a scenario and outside
    the admin roles) with Finance nested in it, and Break Glass."""
    admins = _role_user_ids(tenant, set(ADMIN_ROLES))
    scenario = set(cases.values()) - {cases.get("excluded_role"), cases.get("excluded_group")}
    staff = [u.id for u in tenant.users if u.kind == "customer" and u.graph["accountEnabled"]
             and u.id not in admins and u.id not in scenario]
    finance = _group(tenant, "finance", "Finance", [cases["nested_group"]] if "nested_group" in cases else [])
    guests = [u.id for u in tenant.users if u.kind == "guest"][:1]
    tenant.group_ids["all_staff"] = _group(tenant, "all-staff", "All Staff", staff + guests + [finance])
    tenant.group_ids["finance"] = finance
    tenant.group_ids["break_glass"] = _group(tenant, "break-glass", "Break Glass",
                                             [cases["excluded_group"]] if "excluded_group" in cases else [])


def _privileged_extras(tenant, cases):
    """Privilege that /directoryRoles/{id}/members alone does not show: members of the
    role-assignable group holding Helpdesk Administrator (a technician and one customer
    user), and a PIM-eligible (not active) Global Administrator assignment for another
    customer user. Both users are ordinary All Staff members otherwise."""
    in_roles = _role_user_ids(tenant, set(ROLE_TEMPLATES))
    taken = set(cases.values()) | in_roles
    spare = [u for u in tenant.users if u.kind == "customer" and u.graph["accountEnabled"] and u.id not in taken]
    technicians = [u.id for u in tenant.users if u.kind == "technician"]
    group = next((m for r in tenant.roles for m in r.members if m["@odata.type"] == "#microsoft.graph.group"), None)
    if group is not None:
        members = technicians[-1:] + [u.id for u in spare[:1]]
        tenant.groups[group["id"]] = {"graph": {k: v for k, v in group.items() if k != "@odata.type"}, "members": members}
        if spare:
            tenant.privileged_cases["via_group"] = spare[0].id
    if len(spare) > 1:
        tenant.privileged_cases["eligible"] = spare[1].id
        tenant.role_eligibilities = [{
            "id": guid_for(tenant, "eligibility", spare[1].id),
            "principalId": spare[1].id,
            "roleDefinitionId": ROLE_TEMPLATES["Global Administrator"][0],
            "directoryScopeId": "/",
            "appScopeId": None,
            "startDateTime": "2026-01-05T09:00:00Z",
            "endDateTime": None,
            "memberType": "Direct",
            "roleEligibilityScheduleId": guid_for(tenant, "eligibility-schedule", spare[1].id),
        }]


def _users(include=(), exclude=(), include_groups=(), exclude_groups=(), include_roles=(), exclude_roles=(),
           exclude_guests=None):
    return {
        "includeUsers": list(include), "excludeUsers": list(exclude),
        "includeGroups": list(include_groups), "excludeGroups": list(exclude_groups),
        "includeRoles": list(include_roles), "excludeRoles": list(exclude_roles),
        "includeGuestsOrExternalUsers": None, "excludeGuestsOrExternalUsers": exclude_guests,
    }


def _policy(tenant, number, name, state, users, *, controls=("mfa",), operator="OR", apps=("All",), strength=None,
            client_app_types=("all",), locations=None):
    policy_id = guid_for(tenant, "ca-policy", number)
    return {
        "id": policy_id,
        "templateId": None,
        "displayName": f"CA{number:03d}: {name}",
        "createdDateTime": "2025-03-04T10:15:00.0000000Z",
        "modifiedDateTime": "2026-06-11T08:30:00.0000000Z",
        "state": state,
        "sessionControls": None,
        "conditions": {
            "userRiskLevels": [], "signInRiskLevels": [], "clientAppTypes": list(client_app_types),
            "servicePrincipalRiskLevels": [], "insiderRiskLevels": None, "platforms": None, "locations": locations,
            "times": None, "deviceStates": None, "devices": None, "clientApplications": None,
            "applications": {"includeApplications": list(apps), "excludeApplications": [], "includeUserActions": [],
                             "includeAuthenticationContextClassReferences": [], "applicationFilter": None},
            "users": users,
        },
        "grantControls": {
            "operator": operator, "builtInControls": list(controls), "customAuthenticationFactors": [], "termsOfUse": [],
            "authenticationStrength@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies('{policy_id}')/grantControls/authenticationStrength/$entity",
            "authenticationStrength": strength,
        },
    }


def _policies(tenant, cases):
    def only(case):
        return _users(include=[cases[case]] if case in cases else [])

    admin_roles = [ROLE_TEMPLATES[name][0] for name in ADMIN_ROLES]
    phishing = dict(next(s for s in tenant.auth_strengths if s["id"] == PHISHING_RESISTANT_STRENGTH_ID))
    phishing.pop("combinationConfigurations@odata.context", None)
    guest_types = {"guestOrExternalUserTypes": "internalGuest,b2bCollaborationGuest,b2bCollaborationMember",
                   "externalTenants": {"@odata.type": "#microsoft.graph.conditionalAccessAllExternalTenants",
                                       "membershipKind": "all"}}
    return [
        _policy(tenant, 1, "Require MFA for all staff", "enabled",
                _users(include_groups=[tenant.group_ids["all_staff"]], exclude_groups=[tenant.group_ids["break_glass"]],
                       exclude_roles=[ROLE_TEMPLATES["Directory Readers"][0]], exclude_guests=guest_types),
                operator="AND"),
        _policy(tenant, 2, "Require phishing-resistant MFA for admins", "enabled",
                _users(include_roles=admin_roles, exclude=[cases["excluded_user"]] if "excluded_user" in cases else []),
                controls=(), strength=phishing),
        _policy(tenant, 3, "MFA pilot", "enabledForReportingButNotEnforced", only("report_only")),
        _policy(tenant, 4, "Legacy MFA rule", "disabled", only("disabled")),
        _policy(tenant, 5, "MFA or compliant device", "enabled", only("or_grant"), controls=("mfa", "compliantDevice")),
        _policy(tenant, 6, "MFA for Office 365", "enabled", only("some_apps"), apps=("Office365",)),
        _policy(tenant, 7, "MFA outside trusted locations", "enabled", only("conditional"),
                locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}),
        _policy(tenant, 8, "Block legacy authentication", "enabled", _users(include=["All"]), controls=("block",),
                client_app_types=("exchangeActiveSync", "other")),
    ]


STATES = ("enabled", "enabled", "enabledForReportingButNotEnforced", "disabled")


def _filler(tenant):
    """spec.extra_groups groups of up to 50 customer users (every fifth nested in the one
    before) and spec.extra_ca_policies MFA policies each naming three of them; the
    filler policies include no one that the scenario policies decide for."""
    spec = tenant.spec
    rng = rng_for(tenant, "enforcement-filler")
    customers = [u.id for u in tenant.users if u.kind == "customer"]
    made = []
    for n in range(spec.extra_groups):
        members = rng.sample(customers, min(50, len(customers))) if customers else []
        if n % 5 == 4 and made:
            members.append(made[-1])
        made.append(_group(tenant, f"filler-{n}", f"Department {n + 1:03d}", members))
    if tenant.spec.security_defaults:
        return
    for n in range(spec.extra_ca_policies):
        groups = rng.sample(made, min(3, len(made))) if made else []
        tenant.ca_policies.append(_policy(
            tenant, 100 + n, f"Department MFA rule {n + 1}", STATES[n % len(STATES)],
            _users(include_groups=groups[:2], exclude_groups=groups[2:]),
            controls=("mfa",) if n % 3 else ("mfa", "compliantDevice"), apps=("All",) if n % 2 else ("Office365",),
        ))


def transitive_members(tenant: Tenant, group_id: str) -> list[str]:
    """Every member id under a group, nested groups expanded (each once, no loops)."""
    seen, out, stack = {group_id}, [], list(reversed(tenant.groups.get(group_id, {}).get("members", [])))
    while stack:
        member = stack.pop()
        if member in seen:
            continue
        seen.add(member)
        out.append(member)
        if member in tenant.groups:
            stack.extend(reversed(tenant.groups[member]["members"]))
    return out


def subscribed_skus(tenant: Tenant, premium: bool) -> list[dict]:
    """subscribedSkus: Microsoft 365 E3 (includes AAD_PREMIUM, Entra ID P1) or Office 365 E1 (no P1)."""
    def plan(name, plan_id, applies="User"):
        return {"servicePlanId": plan_id, "servicePlanName": name, "provisioningStatus": "Success", "appliesTo": applies}

    plans = [plan("EXCHANGE_S_STANDARD", "9aaf7827-d63c-4b61-89c3-182f06f82e5c"),
             plan("MFA_PREMIUM", "8a256a2b-b617-496d-b51b-e76466e88db0")]
    if premium:
        sku_id, part = "05e9a617-0261-4cee-bb44-138d3ef5d965", "SPE_E3"
        plans.append(plan("AAD_PREMIUM", "41781fb2-bc02-4b7c-bd55-b576c07bb09d"))
    else:
        sku_id, part = "18181a46-0d4e-45cd-891e-60aabd171b4e", "STANDARDPACK"
    return [{
        "accountName": tenant.spec.tenant_name, "accountId": tenant.spec.tenant_id, "appliesTo": "User",
        "capabilityStatus": "Enabled", "consumedUnits": len(tenant.users), "id": f"{tenant.spec.tenant_id}_{sku_id}",
        "prepaidUnits": {"enabled": len(tenant.users) + 10, "suspended": 0, "warning": 0},
        "skuId": sku_id, "skuPartNumber": part, "servicePlans": plans,
    }]
