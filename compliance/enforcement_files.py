"""The files a pack adds where the collection read MFA enforcement
(Policy.Read.All): the MFA-relevant Conditional Access policies as JSON and
as a readable table, each account's enforcement with its reason, and the
methodology. All are built from the snapshot alone, with sorted keys and
fixed order, so a rebuild gives the same bytes.
"""

import json

from security.enforcement import mfa_relevant_policies, policy_summary

from .evaluate import enforcement_was_read
from .exports import _csv_bytes, _yes_no

ENFORCEMENT_FILES = (
    ("enforcement.csv", "Each account's MFA enforcement: state, enforced by, reason, policy name and id, protected."),
    ("conditional_access_policies.json", "The MFA-relevant Conditional Access policies as Graph returned them, "
                                         "the authentication strengths they use and the Security Defaults state."),
    ("conditional_access_policies.csv", "The same policies as a table: state, grant, apps, conditions, include, exclude."),
    ("methodology.txt", "How enforcement was read and evaluated: endpoints, API versions (incl. beta), permissions, rules."),
)
EVALUATION_RULES = (
    "A Conditional Access policy is about MFA when its grant names MFA: the built-in mfa control, or an "
    "authentication strength whose allowed combinations are all multifactor (phishing-resistant strengths are "
    "recognised). Block-only and device-only policies are not about MFA.",
    "For each such policy and account, in this order: included (user, group including nested groups, directory "
    "role, guest type, All)? excluded (exclusions win)? enabled (report-only and disabled policies enforce "
    "nothing)? could a non-MFA control satisfy the grant (operator OR)? does it cover all apps? does it carry "
    "location, platform, client-app, device or risk conditions (then it is 'conditional', not counted as enforced)?",
    "An account is enforced when an enabled policy passes every step, or Security Defaults are on, or its "
    "per-user MFA state is enforced (per-user \"enabled\" is conditional: legacy authentication still accepts a "
    "password alone). Otherwise the closest policy outcome is the reason.",
    "Protected: MFA registered (with a method that counts) AND enforced. The MFA rows of this pack are evaluated "
    "on protected.",
)


def _texts(value, default="not recorded"):
    """A recorded list as text items (anything else: the default), so odd provenance never breaks a pack."""
    return [str(v) for v in value] if isinstance(value, list) and value else [default]


def _dict(value):
    return value if isinstance(value, dict) else {}


def _enforcement(provenance):
    value = provenance.get("enforcement") if isinstance(provenance, dict) else None
    return value if isinstance(value, dict) else {}


def _dump(value):
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode("utf-8")


ENFORCEMENT_HEADER = [
    "user_principal_name", "display_name", "object_id", "in_scope", "privileged", "mfa_registered",
    "enforcement_state", "reason", "policy_name", "policy_id", "detail", "protected",
]


def enforcement_csv(population):
    return _csv_bytes(ENFORCEMENT_HEADER, [
        [a.upn, a.display_name, a.graph_id, _yes_no(a.in_scope), _yes_no(a.is_privileged), a.mfa_label,
         a.enforcement_state, a.enforcement_reason, a.enforcement_policy, a.enforcement_policy_id,
         a.enforcement_detail, a.protected_label]
        for a in population.accounts
    ])


def policies_json(enforcement):
    return _dump({
        "policies_total_in_tenant": enforcement.get("policies_total"),
        "mfa_policies": enforcement.get("mfa_policies") if isinstance(enforcement.get("mfa_policies"), list) else [],
        "authentication_strengths": enforcement.get("authentication_strengths")
        if isinstance(enforcement.get("authentication_strengths"), list) else [],
        "security_defaults": _dict(enforcement.get("security_defaults")),
    })


POLICY_HEADER = ["name", "id", "state", "grant", "non_mfa_alternatives", "apps", "conditions", "include", "exclude"]


def policies_csv(enforcement):
    recorded = enforcement.get("authentication_strengths")
    strengths = {s.get("id"): s for s in recorded if isinstance(s, dict)} if isinstance(recorded, list) else {}
    policies = enforcement.get("mfa_policies")
    policies = mfa_relevant_policies(policies if isinstance(policies, list) else [], strengths)
    return _csv_bytes(POLICY_HEADER, [[policy_summary(p, strengths)[key] for key in POLICY_HEADER] for p in policies])


def methodology_txt(source):
    provenance = source.provenance
    enforcement = _enforcement(provenance)
    sd = _dict(enforcement.get("security_defaults"))
    groups = _dict(enforcement.get("groups_resolved"))
    lines = [
        f"Methodology: MFA enforcement evidence for {source.customer_name}",
        "",
        f"Collected: {provenance.get('collection_started')} to {provenance.get('collection_finished')} (UTC)",
        f"Tenant: {provenance.get('tenant_name')} ({provenance.get('tenant_id')})",
        f"Application (client) id: {provenance.get('app_id') or 'not recorded'}",
        f"Graph base URL: {provenance.get('graph_base_url')}",
        "API versions: " + ", ".join(_texts(enforcement.get("api_versions"))),
        "Permissions granted at collection: " + ", ".join(_texts(provenance.get("permissions_granted"))),
        "",
        "Endpoints read for enforcement:",
        *[f"  - {e}" for e in _texts(enforcement.get("endpoints"))],
        "",
        f"Conditional Access policies in the tenant: {enforcement.get('policies_total')}; about MFA: "
        f"{len(enforcement.get('mfa_policies')) if isinstance(enforcement.get('mfa_policies'), list) else 'not recorded'}",
        f"Security Defaults: {'on' if sd.get('isEnabled') else 'off' if sd else 'not recorded'}",
        f"Per-user MFA (beta API /users/{{id}}/authentication/requirements): "
        f"{_dict(enforcement.get('per_user_mfa')).get('note') or 'not recorded'}",
        "Groups resolved (transitive members): " + (", ".join(
            f"{_dict(g).get('name')} ({_dict(g).get('users')} users)" for _, g in sorted(groups.items())
        ) or "none"),
        "",
        "Rules:",
        *[f"  {n}. {rule}" for n, rule in enumerate(EVALUATION_RULES, start=1)],
        "",
    ]
    return "\n".join(lines).encode("utf-8")


EXCEPTIONS_HEADER = ["user_principal_name", "object_id", "status", "kind", "reason", "owner", "approver", "expires_on",
                     "compensating_control", "recorded_by", "recorded_at", "exception_id"]
EXCEPTIONS_FILE = ("exceptions.csv", "Every documented MFA exception in force at collection (and any expired), "
                                     "with reason, owner, approver, expiry and compensating control.")


def exceptions_csv(provenance):
    """The exceptions recorded in the snapshot, or None when there were none."""
    recorded = provenance.get("exceptions") if isinstance(provenance, dict) else None
    recorded = recorded if isinstance(recorded, dict) else {}
    rows = [(status, e) for status in ("in force", "expired") for e in recorded.get(status.replace(" ", "_")) or []
            if isinstance(e, dict)]
    if not rows:
        return None
    return _csv_bytes(EXCEPTIONS_HEADER, [
        [e.get("upn"), e.get("graph_id"), status, e.get("kind"), e.get("reason"), e.get("owner"), e.get("approver"),
         e.get("expires_on"), e.get("compensating_control"), e.get("created_by"), e.get("created_at"), e.get("id")]
        for status, e in rows
    ])


def enforcement_files(source):
    """{name: bytes} to add to the pack: exceptions.csv when any were recorded;
    the enforcement files when enforcement was read."""
    files = {}
    exceptions = exceptions_csv(source.provenance)
    if exceptions is not None:
        files[EXCEPTIONS_FILE[0]] = exceptions
    if not enforcement_was_read(source.provenance):
        return files
    enforcement = _enforcement(source.provenance)
    return {**files,
        "enforcement.csv": enforcement_csv(source.evaluation.population),
        "conditional_access_policies.json": policies_json(enforcement),
        "conditional_access_policies.csv": policies_csv(enforcement),
        "methodology.txt": methodology_txt(source),
    }
