"""Is MFA *required* at sign-in for a user, and why (not)? Pure functions over
plain data read from Graph: Conditional Access policies, the authentication
strength policies they reference, Security Defaults, per-user MFA states and
the transitive group / directory-role memberships needed to resolve includes
and excludes.

The rules (also shown on the pages and in the packs' methodology file):
- A Conditional Access policy is MFA-relevant when its grant names MFA: the
  built-in `mfa` control, or an authentication strength whose allowed
  combinations are ALL multifactor. Block-only and device-only policies are
  not about MFA and are ignored.
- For each MFA-relevant policy, in this order: is the user included (user,
  group incl. nested groups, directory role, guest type, All)? excluded
  (exclusions win, naming which)? is the policy enabled (report-only and
  disabled policies enforce nothing)? could a non-MFA control satisfy the
  grant (operator OR with a device, app, terms-of-use or custom control)?
  does it cover all cloud apps (includeApplications All, nothing excluded)?
  does it carry conditions (locations, device platforms, client app types,
  device filters, risk levels)? If so it is "conditional": MFA is required
  only in some sign-ins, which we show rather than guess.
- A user is *enforced* when an enabled policy passes every step, or Security
  Defaults are on, or their per-user MFA state is "enforced" (a beta Graph
  API; when it could not be read, that is said). Per-user "enabled" is
  conditional: legacy authentication still accepts the password alone. Otherwise the best
  (closest to enforcing) policy outcome is the reason, e.g. "report-only".
- Nothing is guessed: when the inputs were not read the state is "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field

ENFORCED = "enforced"
CONDITIONAL = "conditional"
NOT_ENFORCED = "not_enforced"
UNKNOWN = "unknown"
STATE_LABELS = {
    ENFORCED: "Enforced",
    CONDITIONAL: "Conditional",
    NOT_ENFORCED: "Not enforced",
    UNKNOWN: "Not read",
}

# Reason codes, from "nothing applies" up to "enforced"; a user's reason is
# the highest-ranked outcome over all MFA-relevant policies.
NO_POLICY = "no_policy"
DISABLED = "disabled"
REPORT_ONLY = "report_only"
EXCLUDED = "excluded"
OR_GRANT = "or_grant"
SOME_APPS = "some_apps"
CONDITIONS = "conditional"
BY_POLICY = "policy"
BY_SECURITY_DEFAULTS = "security_defaults"
BY_PER_USER_MFA = "per_user_mfa"
NOT_READ = "not_read"
_RANK = {NO_POLICY: 0, DISABLED: 1, REPORT_ONLY: 2, EXCLUDED: 3, OR_GRANT: 4, SOME_APPS: 5, CONDITIONS: 6, BY_POLICY: 7}
REASON_LABELS = {
    NO_POLICY: "No policy requiring MFA targets this user",
    DISABLED: "Policy is disabled",
    REPORT_ONLY: "Policy is report-only (not enforced)",
    EXCLUDED: "Excluded from the policy",
    OR_GRANT: "Grant lets a non-MFA control satisfy the policy (OR)",
    SOME_APPS: "Policy covers only some apps",
    CONDITIONS: "Required only under conditions",
    BY_POLICY: "Conditional Access policy",
    BY_SECURITY_DEFAULTS: "Security Defaults",
    BY_PER_USER_MFA: "Per-user MFA (legacy; beta API)",
    NOT_READ: "Enforcement not read (registration only)",
}

# Authentication strength combinations. A combination of two or more methods
# ("password,sms") is multifactor; so is one of these on its own.
MULTIFACTOR_ALONE = frozenset({
    "fido2", "windowsHelloForBusiness", "x509CertificateMultiFactor", "deviceBasedPush",
    "federatedMultiFactor", "temporaryAccessPassOneTime", "temporaryAccessPassMultiUse",
})
PHISHING_RESISTANT_COMBINATIONS = frozenset({"fido2", "windowsHelloForBusiness", "x509CertificateMultiFactor"})
STRENGTH_PHISHING_RESISTANT = "phishing_resistant"
STRENGTH_MULTIFACTOR = "multifactor"
STRENGTH_NOT_MULTIFACTOR = "not_multifactor"
STRENGTH_UNREADABLE = "unreadable"

NON_MFA_CONTROL_LABELS = {
    "compliantDevice": "compliant device",
    "domainJoinedDevice": "hybrid-joined device",
    "approvedApplication": "approved client app",
    "compliantApplication": "app protection policy",
}
GUEST_TYPE_FOR_GUESTS = "b2bCollaborationGuest"  # what an invited guest (userType Guest) is


def combination_is_multifactor(combination):
    parts = [p.strip() for p in str(combination).split(",") if p.strip()]
    return len(parts) >= 2 or (len(parts) == 1 and parts[0] in MULTIFACTOR_ALONE)


def strength_kind(strength):
    """How an authenticationStrengthPolicy counts: phishing-resistant, multifactor,
    not multifactor (some combination is single-factor) or unreadable."""
    combos = strength.get("allowedCombinations") if isinstance(strength, dict) else None
    if not isinstance(combos, list) or not combos:
        return STRENGTH_UNREADABLE
    if not all(combination_is_multifactor(c) for c in combos):
        return STRENGTH_NOT_MULTIFACTOR
    if all(str(c).strip() in PHISHING_RESISTANT_COMBINATIONS for c in combos):
        return STRENGTH_PHISHING_RESISTANT
    return STRENGTH_MULTIFACTOR


@dataclass(frozen=True)
class EnforcementInputs:
    """Everything read from the tenant, as plain data."""

    policies: tuple = ()  # conditionalAccessPolicy dicts as Graph returns them
    strengths: dict = field(default_factory=dict)  # id -> authenticationStrengthPolicy dict
    security_defaults: bool | None = None  # isEnabled; None: not read
    group_members: dict = field(default_factory=dict)  # group id -> set of user ids (transitive)
    group_names: dict = field(default_factory=dict)  # group id -> displayName
    role_members: dict = field(default_factory=dict)  # roleTemplateId -> set of user ids
    role_names: dict = field(default_factory=dict)  # roleTemplateId -> displayName
    per_user_mfa: dict = field(default_factory=dict)  # user id -> perUserMfaState
    per_user_read: bool = False  # False: the beta endpoint was not (fully) read


@dataclass(frozen=True)
class Subject:
    graph_id: str
    user_type: str = "member"  # "member" | "guest"


def _dict(value):
    """Graph JSON is hostile input: anything not an object reads as empty."""
    return value if isinstance(value, dict) else {}


def _list(value):
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _lower_set(values):
    return {str(v).lower() for v in values or () if isinstance(v, str)}


def _grant(policy, strengths):
    """(mfa_relevant, strength_kind or "", non-MFA alternatives under OR, strength name)."""
    grant = _dict(policy.get("grantControls"))
    built_in = _list(grant.get("builtInControls"))
    if "block" in built_in:
        return False, "", [], ""
    strength_kind_found, strength_name = "", ""
    inline = grant.get("authenticationStrength")
    if isinstance(inline, dict) and inline.get("id"):
        read = _dict(strengths.get(inline["id"])) or inline
        strength_kind_found = strength_kind(read)
        strength_name = str(read.get("displayName") or inline.get("displayName") or inline["id"])
    mfa = "mfa" in built_in or strength_kind_found in (STRENGTH_MULTIFACTOR, STRENGTH_PHISHING_RESISTANT)
    if not mfa:
        return False, strength_kind_found, [], strength_name
    alternatives = []
    if str(grant.get("operator") or "AND").upper() == "OR":
        alternatives += [NON_MFA_CONTROL_LABELS.get(c, c) for c in built_in if c not in ("mfa", "passwordChange")]
        if strength_kind_found in (STRENGTH_NOT_MULTIFACTOR, STRENGTH_UNREADABLE):
            alternatives.append(f"authentication strength {strength_name} (not all multifactor)")
        alternatives += [f"custom control {c}" for c in _list(grant.get("customAuthenticationFactors"))]
        alternatives += ["terms of use" for _ in _list(grant.get("termsOfUse"))[:1]]
    return True, strength_kind_found, alternatives, strength_name


def _conditions(policy):
    """Plain-language list of the conditions that make a policy apply only to some sign-ins."""
    conditions = _dict(policy.get("conditions"))
    found = []
    locations = _dict(conditions.get("locations"))
    if (
        _lower_set(locations.get("includeLocations")) - {"all"} or locations.get("excludeLocations")
    ):
        found.append("locations")
    platforms = conditions.get("platforms")
    if isinstance(platforms, dict) and (_lower_set(platforms.get("includePlatforms")) - {"all"} or platforms.get("excludePlatforms")):
        found.append("device platforms")
    client_types = _lower_set(conditions.get("clientAppTypes"))
    if client_types and "all" not in client_types:
        found.append("client app types (" + ", ".join(sorted(client_types)) + ")")
    devices = conditions.get("devices")
    if isinstance(devices, dict) and (devices.get("deviceFilter") or devices.get("includeDevices") or devices.get("excludeDevices")):
        found.append("device filter")
    for key, label in (("userRiskLevels", "user risk"), ("signInRiskLevels", "sign-in risk"),
                       ("insiderRiskLevels", "insider risk")):
        value = conditions.get(key)
        if value and value != "none" and (not isinstance(value, list) or any(v != "none" for v in value)):
            found.append(label)
    return found


def _apps_gap(policy):
    """Why the policy does not cover every cloud app, or "" when it does."""
    apps = _dict(_dict(policy.get("conditions")).get("applications"))
    include = _list(apps.get("includeApplications"))
    if apps.get("includeUserActions") or apps.get("includeAuthenticationContextClassReferences"):
        return "covers user actions or authentication contexts, not sign-in to apps"
    if "all" not in _lower_set(include):
        return "covers only " + (", ".join(include) if include else "no apps")
    excluded = _list(apps.get("excludeApplications"))
    if excluded:
        return f"all apps except {len(excluded)} excluded"
    return ""


def _guest_types(block):
    if not isinstance(block, dict):
        return set()
    return {t.strip() for t in str(block.get("guestOrExternalUserTypes") or "").split(",") if t.strip()}


def _membership(subject, users_block, inputs, side):
    """How the subject matches the include/exclude side of a users condition, or ""."""
    ids = set(_list(users_block.get(f"{side}Users")))
    if subject.graph_id in ids:
        return "user"
    lowered = _lower_set(ids)
    if side == "include" and "all" in lowered:
        return "all users"
    is_guest = subject.user_type == "guest"
    if is_guest and "guestsorexternalusers" in lowered:
        return "guests or external users"
    if is_guest and GUEST_TYPE_FOR_GUESTS in _guest_types(users_block.get(f"{side}GuestsOrExternalUsers")):
        return f"guest type {GUEST_TYPE_FOR_GUESTS}"
    for group_id in _list(users_block.get(f"{side}Groups")):
        if subject.graph_id in inputs.group_members.get(group_id, ()):
            return f"group {inputs.group_names.get(group_id) or group_id}"
    for template_id in _list(users_block.get(f"{side}Roles")):
        if subject.graph_id in inputs.role_members.get(str(template_id).lower(), ()):
            return f"role {inputs.role_names.get(str(template_id).lower()) or template_id}"
    return ""


def policy_outcome(policy, subject, inputs):
    """(reason code, detail) of one policy for one user, or None when the policy is not about MFA."""
    mfa, kind, alternatives, strength_name = _grant(policy, inputs.strengths)
    if not mfa:
        return None
    users_block = _dict(_dict(policy.get("conditions")).get("users"))
    included = _membership(subject, users_block, inputs, "include")
    if not included:
        return NO_POLICY, "not included"
    excluded = _membership(subject, users_block, inputs, "exclude")
    if excluded:
        return EXCLUDED, f"excluded by {excluded}"
    state = policy.get("state")
    if state == "enabledForReportingButNotEnforced":
        return REPORT_ONLY, "report-only: sign-ins are logged, MFA is not required"
    if state != "enabled":
        return DISABLED, f"state {state or 'missing'}"
    if alternatives:
        return OR_GRANT, "MFA OR " + ", ".join(alternatives) + ": the other control satisfies the policy without MFA"
    gap = _apps_gap(policy)
    if gap:
        return SOME_APPS, gap
    conditions = _conditions(policy)
    if conditions:
        return CONDITIONS, "only when these conditions match: " + ", ".join(conditions)
    how = f"requires authentication strength {strength_name}" if kind else "requires MFA"
    if kind == STRENGTH_PHISHING_RESISTANT:
        how += " (phishing-resistant)"
    return BY_POLICY, f"included as {included}; {how}"


def _policy_ref(policy):
    return {"id": str(policy.get("id") or ""), "name": str(policy.get("displayName") or "")}


def evaluate_user(subject, inputs):
    """The user's enforcement record (stored in the snapshot row, keys below)."""
    outcomes = []
    for policy in inputs.policies:
        if not isinstance(policy, dict):
            continue
        found = policy_outcome(policy, subject, inputs)
        if found is not None:
            outcomes.append((found[0], found[1], _policy_ref(policy)))
    outcomes.sort(key=lambda o: (-_RANK[o[0]], o[2]["name"].casefold(), o[2]["id"]))
    notes = [{"policy": o[2], "outcome": o[0], "detail": o[1]} for o in outcomes if o[0] != NO_POLICY]
    best = outcomes[0] if outcomes else None
    if best and best[0] == BY_POLICY:
        return _record(ENFORCED, BY_POLICY, best[2], best[1], notes)
    per_user = inputs.per_user_mfa.get(subject.graph_id)
    if per_user == "enforced":
        return _record(ENFORCED, BY_PER_USER_MFA, None, "per-user MFA state enforced", notes)
    if inputs.security_defaults:
        return _record(ENFORCED, BY_SECURITY_DEFAULTS, None,
                       "Security Defaults are on: every user must register and complete MFA when Entra ID asks "
                       "(administrators at every sign-in)", notes)
    if per_user == "enabled":
        # Microsoft: "enabled" users are asked for MFA at modern-authentication sign-in (after
        # registering), but legacy authentication still accepts the password alone.
        return _record(CONDITIONAL, BY_PER_USER_MFA, None, "per-user MFA state enabled: required at modern "
                       "authentication sign-in; legacy authentication can still use the password alone", notes)
    if best is None or best[0] == NO_POLICY:
        detail = "no enabled, report-only or disabled policy requiring MFA includes this user"
        if not inputs.per_user_read:
            detail += "; per-user MFA state could not be read"
        return _record(NOT_ENFORCED, NO_POLICY, None, detail, notes)
    state = CONDITIONAL if best[0] == CONDITIONS else NOT_ENFORCED
    return _record(state, best[0], best[2], best[1], notes)


def _record(state, reason, policy, detail, notes):
    return {
        "state": state,
        "reason": reason,
        "reason_label": REASON_LABELS[reason],
        "policy_id": policy["id"] if policy else "",
        "policy_name": policy["name"] if policy else "",
        "detail": detail,
        "policies": notes,
    }


def not_read_record(why):
    """For every user in registration-only mode."""
    return {"state": UNKNOWN, "reason": NOT_READ, "reason_label": REASON_LABELS[NOT_READ], "policy_id": "",
            "policy_name": "", "detail": why, "policies": []}


def mfa_relevant_policies(policies, strengths):
    """The policies whose grant names MFA (for the pack's table), sorted by name."""
    relevant = [p for p in policies if isinstance(p, dict) and _grant(p, strengths)[0]]
    return sorted(relevant, key=lambda p: (str(p.get("displayName") or "").casefold(), str(p.get("id") or "")))


def policy_summary(policy, strengths):
    """One readable row per policy: name, id, state, grant, apps, conditions."""
    mfa, kind, alternatives, strength_name = _grant(policy, strengths)
    grant = _dict(policy.get("grantControls"))
    controls = _list(grant.get("builtInControls"))
    if strength_name:
        controls.append(f"strength: {strength_name} ({kind})")
    users_block = _dict(_dict(policy.get("conditions")).get("users"))
    return {
        "id": str(policy.get("id") or ""),
        "name": str(policy.get("displayName") or ""),
        "state": str(policy.get("state") or ""),
        "grant": f"{str(grant.get('operator') or '')}: " + ", ".join(controls),
        "non_mfa_alternatives": "; ".join(alternatives),
        "apps": _apps_gap(policy) or "all apps",
        "conditions": ", ".join(_conditions(policy)) or "none",
        "include": _targets(users_block, "include"),
        "exclude": _targets(users_block, "exclude"),
    }


def _targets(users_block, side):
    parts = []
    for key, label in (("Users", "users"), ("Groups", "groups"), ("Roles", "roles")):
        values = _list(users_block.get(side + key))
        if values:
            parts.append(f"{label}: {', '.join(str(v) for v in values)}")
    guest = _guest_types(users_block.get(f"{side}GuestsOrExternalUsers"))
    if guest:
        parts.append("guest types: " + ", ".join(sorted(guest)))
    return "; ".join(parts) or "none"
