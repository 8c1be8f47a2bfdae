"""Read what decides whether MFA is *required* (the optional seventh permission,
Policy.Read.All) and evaluate it per matched user with security.enforcement.

Without Policy.Read.All, or when Graph refuses or fails, the run goes on in
"registration only" mode and says why: enforcement is optional evidence and
never breaks a posture run.

Requests (each read once per run and kept for the run):
1. GET /identity/conditionalAccess/policies (all pages), paced to about one
   request per second, the Conditional Access read limit per tenant.
2. GET /policies/authenticationStrengthPolicies (paced likewise).
3. GET /policies/identitySecurityDefaultsEnforcementPolicy.
4. The groups MFA-relevant policies include or exclude: their names with
   GET /groups?$filter=id in (...) (15 a request), then each one's
   /groups/{id}/transitiveMembers (nested groups expanded).
5. Directory roles those policies name are read with the privileged ones
   (posture_sync._collect_roles), so each role is read once.
6. BETA: POST /beta/$batch -> GET /users/{id}/authentication/requirements
   (per-user MFA state), only for in-scope users no policy already enforces.
   Beta APIs may change or vanish: a failure is recorded and the figures
   stay valid, saying per-user MFA could not be read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from security.enforcement import (
    ENFORCED,
    EnforcementInputs,
    Subject,
    evaluate_user,
    mfa_relevant_policies,
    not_read_record,
)

from ..graph import errors, parse

logger = logging.getLogger(__name__)

POLICY_PERMISSION = "Policy.Read.All"
MODE_ENFORCEMENT = "enforcement"
MODE_REGISTRATION_ONLY = "registration_only"
NOT_GRANTED = (
    f"{POLICY_PERMISSION} is not granted, so Conditional Access, Security Defaults and per-user MFA were not "
    "read: these figures show MFA registration only. Grant the optional seventh permission to see enforcement."
)
ENDPOINTS = (
    "GET /identity/conditionalAccess/policies",
    "GET /policies/authenticationStrengthPolicies",
    "GET /policies/identitySecurityDefaultsEnforcementPolicy",
    "GET /groups?$filter=id in (...) and /groups/{id}/transitiveMembers (groups named by MFA policies)",
    "GET /directoryRoles/{id}/members (roles named by MFA policies)",
    "POST /beta/$batch -> GET /beta/users/{id}/authentication/requirements (per-user MFA, BETA)",
)


@dataclass
class EnforcementRead:
    mode: str = MODE_REGISTRATION_ONLY
    why_registration_only: str = ""
    policies: list = field(default_factory=list)
    strengths: dict = field(default_factory=dict)
    security_defaults: dict = field(default_factory=dict)
    group_members: dict = field(default_factory=dict)
    group_names: dict = field(default_factory=dict)
    per_user_note: str = ""
    per_user_asked: int = 0

    @property
    def read(self):
        return self.mode == MODE_ENFORCEMENT

    def referenced_roles(self):
        """Role template ids (lowercase) that MFA-relevant policies include or exclude."""
        return {str(r).lower() for p in mfa_relevant_policies(self.policies, self.strengths)
                for side in ("includeRoles", "excludeRoles") for r in _users_block(p).get(side) or [] if isinstance(r, str)}


def _users_block(policy):
    conditions = policy.get("conditions") if isinstance(policy.get("conditions"), dict) else {}
    users = conditions.get("users")
    return users if isinstance(users, dict) else {}


def enforcement_read(client) -> EnforcementRead:
    """Read the policies (never raises for Graph trouble: falls back to registration only)."""
    read = EnforcementRead()
    try:
        granted = client.granted_permissions()
    except errors.GraphError as error:
        read.why_registration_only = f"Permissions could not be read ({error}); enforcement was not read."
        return read
    if POLICY_PERMISSION not in granted:
        read.why_registration_only = NOT_GRANTED
        return read
    try:
        read.policies = client.conditional_access_policies()
        read.strengths = {s["id"]: s for s in client.authentication_strength_policies() if isinstance(s.get("id"), str)}
        read.security_defaults = client.security_defaults()
        _read_groups(client, read)
    except errors.PermissionDeniedError as error:
        read.why_registration_only = f"Graph refused the enforcement policies ({error}); figures show registration only."
        return read
    except errors.GraphError as error:
        logger.warning("enforcement read failed: %r", error)
        read.why_registration_only = (f"The enforcement policies could not be read this run ({error}); figures show "
                                      "registration only and the next run tries again.")
        return read
    read.mode = MODE_ENFORCEMENT
    return read


def _read_groups(client, read):
    wanted = sorted({g for p in mfa_relevant_policies(read.policies, read.strengths)
                     for side in ("includeGroups", "excludeGroups") for g in _users_block(p).get(side) or []
                     if isinstance(g, str)})
    names = client.group_names(wanted)  # 15 a request
    for group_id in wanted:
        if group_id not in names:  # a policy may still name a group deleted since
            read.group_names[group_id] = f"{group_id} (deleted group)"
            read.group_members[group_id] = set()
            continue
        read.group_names[group_id] = names[group_id]
        members = set()
        for page in client.group_transitive_members(group_id):
            members.update(m.id for m in parse.role_members_page(page) if m.is_user and m.id)
        read.group_members[group_id] = members


def enforcement_evaluate(client, read, users, *, role_members, role_names, in_scope):
    """{user id: enforcement record} for parse.UserRecord `users`; asks the beta
    per-user endpoint only for in-scope users nothing else enforces."""
    if not read.read:
        record = not_read_record(read.why_registration_only)
        return {u.id: dict(record) for u in users}
    sd = read.security_defaults.get("isEnabled") is True
    base = dict(policies=tuple(read.policies), strengths=read.strengths, security_defaults=sd,
                group_members=read.group_members, group_names=read.group_names,
                role_members=role_members, role_names=role_names)
    subjects = {u.id: Subject(u.id, "guest" if (u.user_type or "").lower() == "guest" else "member") for u in users}
    first = {uid: evaluate_user(s, EnforcementInputs(**base, per_user_read=True)) for uid, s in subjects.items()}
    ask = [u.id for u in users if in_scope(u) and first[u.id]["state"] != ENFORCED]
    per_user, complete = _per_user(client, read, ask)
    inputs = EnforcementInputs(**base, per_user_mfa=per_user, per_user_read=complete)
    return {uid: evaluate_user(s, inputs) if uid in ask else first[uid] for uid, s in subjects.items()}


def _per_user(client, read, user_ids):
    read.per_user_asked = len(user_ids)
    if not user_ids:
        read.per_user_note = "Not needed: every in-scope user was already enforced by a policy."
        return {}, True
    try:
        answers = client.per_user_mfa_batch(user_ids)
    except errors.GraphError as error:
        read.per_user_note = f"Per-user MFA (beta API) could not be read: {error}"
        return {}, False
    states = {uid: a for uid, a in answers.items() if isinstance(a, str)}
    failed = [a for a in answers.values() if isinstance(a, errors.GraphError)]
    if failed and not states:
        read.per_user_note = f"Per-user MFA (beta API) could not be read for any of {len(user_ids)} users, e.g. {failed[0]}"
        return states, False
    if failed:
        read.per_user_note = (f"Per-user MFA (beta API) read for {len(states)} of {len(user_ids)} users; "
                              f"{len(failed)} could not be read, e.g. {failed[0]}")
        return states, False
    read.per_user_note = f"Per-user MFA (beta API) read for {len(states)} users."
    return states, True


def enforcement_provenance(read):
    """What the snapshot (and the pack's methodology) records about the enforcement read."""
    relevant = mfa_relevant_policies(read.policies, read.strengths)
    referenced = {
        (p.get("grantControls") or {}).get("authenticationStrength", {}).get("id")
        for p in relevant if isinstance((p.get("grantControls") or {}).get("authenticationStrength"), dict)
    }
    return {
        "mode": read.mode,
        "why_registration_only": read.why_registration_only,
        "endpoints": list(ENDPOINTS) if read.read else [],
        "api_versions": ["v1.0", "beta (per-user MFA only)"] if read.read else [],
        "policies_total": len(read.policies),
        "mfa_policies": relevant,
        "authentication_strengths": [read.strengths[i] for i in sorted(i for i in referenced if i in read.strengths)],
        "security_defaults": {k: read.security_defaults.get(k) for k in ("id", "displayName", "isEnabled")}
        if read.security_defaults else {},
        "groups_resolved": {gid: {"name": read.group_names.get(gid, gid), "users": len(m)}
                            for gid, m in sorted(read.group_members.items())},
        "per_user_mfa": {"api": "beta", "asked": read.per_user_asked, "note": read.per_user_note},
    }
