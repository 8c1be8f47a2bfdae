"""The posture arithmetic: pure functions over plain user records.

The rules (also written on the pages):
- In scope: enabled member accounts. Guests and disabled accounts are out of
  scope and only counted, with the reason (a disabled guest counts as a guest).
- MFA registered: at least one method type that is MFA (see strength.py).
  The same rule applies whichever source the types came from, so switching
  between the report and the per-user fallback does not move the figures.
- Unknown: the data could not decide (no report row and no per-user data).
  Unknown users are neither covered nor uncovered: percentages are computed
  over the decided users and the unknown count is shown next to them.
- Privileged: holds at least one role from privileged.py. A user in several
  privileged roles is one privileged user. Role members that are groups or
  service principals are not users and are never counted here.
- Weak method share: in-scope users whose strongest method is weak, over
  in-scope users with MFA registered.
- Percentages are rounded DOWN to one decimal, so 99.95% shows as 99.9% and
  100% always means everyone.
"""

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from .enforcement import ENFORCED, UNKNOWN, not_read_record
from .strength import MFA_STRENGTHS, PHISHING_RESISTANT, WEAK, has_mfa, strongest_strength

IN_SCOPE = "in_scope"
OUT_GUEST = "guest"
OUT_DISABLED = "disabled"

SCOPE_RULE = (
    "In scope: enabled member accounts. Guests and disabled accounts are out of scope "
    "and shown only as counts. Percentages use the users whose MFA state is known; "
    "users whose state could not be read are counted as unknown, neither covered nor "
    "uncovered. Percentages are rounded down to one decimal."
)
MODE_ENFORCEMENT = "enforcement"
MODE_REGISTRATION_ONLY = "registration_only"
PROTECTED_RULE = (
    "Enforced: an enabled Conditional Access policy requires MFA for all apps without conditions, or "
    "Security Defaults are on, or per-user MFA is \"enforced\" (per-user \"enabled\" is conditional: legacy "
    "authentication still accepts a password alone). Protected: MFA registered with a method "
    "that counts AND enforced. Enforced % and protected % are over all in-scope users (users of unknown "
    "registration count as not protected); \"conditional\" users (MFA only at some locations, platforms or "
    "risk levels) are shown apart and not counted as enforced."
)
NOT_READ_DETAIL = "Enforcement was not read for this collection (see its provenance for why)."
REGISTRATION_CAVEAT = (
    "These figures show MFA registration, not enforcement: a registered user may still "
    "sign in without MFA unless Conditional Access or Security Defaults require it."
)


@dataclass(frozen=True)
class ObservedUser:
    """One directory user as collected: what the arithmetic and the stores need, nothing else."""

    graph_id: str
    upn: str
    display_name: str = ""
    user_type: str = "member"  # "member" | "guest"
    account_enabled: bool = True
    mfa_registered: bool | None = None  # None: the data could not decide
    method_types: tuple = ()  # method type names only
    mfa_source: str = ""  # "report" | "methods" | ""
    privileged_roles: tuple = ()  # ({"template_id", "name"}, ...)
    customer_id: int | None = field(default=None, compare=False)
    # security.enforcement record; None when enforcement was not read (registration only)
    enforcement: dict | None = field(default=None, compare=False)

    @property
    def is_privileged(self):
        return bool(self.privileged_roles)


def mfa_decision(method_types):
    """MFA registered or not, from method types alone (the one rule for both sources)."""
    return has_mfa(method_types)


def scope_reason(user):
    if (user.user_type or "member").lower() == "guest":
        return OUT_GUEST
    if user.account_enabled is False:
        return OUT_DISABLED
    return IN_SCOPE


def strongest(user):
    """The user's strongest MFA strength; "unknown" when the MFA state is unknown."""
    if user.mfa_registered is None:
        return "unknown"
    return strongest_strength(user.method_types) if user.mfa_registered else "none"


def pct(numerator, denominator):
    """numerator/denominator as a percentage rounded down to one decimal; None when nothing to divide."""
    if not denominator:
        return None
    return (numerator * 1000 // denominator) / 10


def floor_1dp(value):
    """Round a float down to one decimal without binary-float surprises (99.95 -> 99.9)."""
    if value is None:
        return None
    # round(…, 9) first drops binary noise (0.3 + 0.6 = 0.8999999999999999) that would floor to 0.8.
    return float(Decimal(str(round(value, 9))).quantize(Decimal("0.1"), rounding=ROUND_FLOOR))


def _mfa_counts(users):
    registered = sum(1 for u in users if u.mfa_registered is True)
    not_registered = sum(1 for u in users if u.mfa_registered is False)
    unknown = sum(1 for u in users if u.mfa_registered is None)
    return registered, not_registered, unknown


def enforcement_state(user):
    return (user.enforcement or {}).get("state", UNKNOWN)


def is_protected(user):
    """Registered AND enforced: True/False, or None when either side is unknown."""
    state = enforcement_state(user)
    if state == UNKNOWN:
        return None
    if state != ENFORCED:
        return False
    return user.mfa_registered  # None when registration is unknown


def enforcement_metrics(in_scope, privileged, mode):
    """The enforced / protected figures with numerators and denominators; None in registration-only mode."""
    def figures(prefix, group):
        if mode != MODE_ENFORCEMENT:
            return {f"{prefix}enforced": None, f"{prefix}enforced_pct": None, f"{prefix}protected": None,
                    f"{prefix}protected_pct": None, f"{prefix}enforcement_denominator": None,
                    f"{prefix}enforced_conditional": None}
        enforced = sum(1 for u in group if enforcement_state(u) == ENFORCED)
        protected = sum(1 for u in group if is_protected(u) is True)
        return {
            f"{prefix}enforced": enforced,
            f"{prefix}enforced_pct": pct(enforced, len(group)),
            f"{prefix}protected": protected,
            f"{prefix}protected_pct": pct(protected, len(group)),
            f"{prefix}enforcement_denominator": len(group),
            f"{prefix}enforced_conditional": sum(1 for u in group if enforcement_state(u) == "conditional"),
        }

    reasons = {}
    if mode == MODE_ENFORCEMENT:
        for user in in_scope:
            if enforcement_state(user) != ENFORCED:
                reason = (user.enforcement or {}).get("reason", "unknown")
                reasons[reason] = reasons.get(reason, 0) + 1
    return {"enforcement_mode": mode, **figures("", in_scope), **figures("privileged_", privileged),
            "not_enforced_by_reason": dict(sorted(reasons.items()))}


def exception_metrics(in_scope, privileged, excepted, mode):
    """Figures "with exceptions" beside the plain ones: an excepted user who is not
    registered / not protected counts as covered. Denominators never change."""
    def figures(prefix, group):
        registered = [u for u in group if u.mfa_registered is True or (u.graph_id in excepted and u.mfa_registered is False)]
        decided = [u for u in group if u.mfa_registered is not None]
        out = {
            f"{prefix}exceptions_in_force": sum(1 for u in group if u.graph_id in excepted),
            f"{prefix}mfa_pct_with_exceptions": pct(len(registered), len(decided)),
        }
        if mode == MODE_ENFORCEMENT:
            covered = sum(1 for u in group if is_protected(u) is True or u.graph_id in excepted)
            out[f"{prefix}protected_with_exceptions"] = covered
            out[f"{prefix}protected_pct_with_exceptions"] = pct(covered, len(group))
        else:
            out[f"{prefix}protected_with_exceptions"] = None
            out[f"{prefix}protected_pct_with_exceptions"] = None
        return out

    return {**figures("", in_scope), **figures("privileged_", privileged)}


def posture_metrics(users, *, enforcement_mode=MODE_REGISTRATION_ONLY, excepted=frozenset(), expired_exceptions=0):
    """The snapshot's metrics dict (keys documented on PostureSnapshot.metrics).
    `excepted`: graph ids with a documented exception in force at collection."""
    users = list(users)
    reasons = [scope_reason(u) for u in users]
    in_scope = [u for u, r in zip(users, reasons, strict=True) if r == IN_SCOPE]
    registered, not_registered, unknown = _mfa_counts(in_scope)

    privileged = [u for u in in_scope if u.is_privileged]
    p_registered, p_not_registered, p_unknown = _mfa_counts(privileged)

    with_mfa = [u for u in in_scope if u.mfa_registered is True]
    by_strength = {s: 0 for s in MFA_STRENGTHS}
    for user in with_mfa:
        by_strength[strongest(user)] += 1

    return {
        "users_total": len(users),
        "in_scope": len(in_scope),
        "excluded_guests": reasons.count(OUT_GUEST),
        "excluded_disabled": reasons.count(OUT_DISABLED),
        "mfa_registered": registered,
        "mfa_not_registered": not_registered,
        "mfa_unknown": unknown,
        "coverage_pct": pct(registered, registered + not_registered),
        "privileged_total": sum(1 for u in users if u.is_privileged),
        "privileged_in_scope": len(privileged),
        "privileged_out_of_scope": sum(1 for u, r in zip(users, reasons, strict=True) if u.is_privileged and r != IN_SCOPE),
        "privileged_mfa_registered": p_registered,
        "privileged_mfa_not_registered": p_not_registered,
        "privileged_mfa_unknown": p_unknown,
        "privileged_mfa_pct": pct(p_registered, p_registered + p_not_registered),
        "strongest_phishing_resistant": by_strength["phishing_resistant"],
        "strongest_standard": by_strength["standard"],
        "strongest_weak": by_strength[WEAK],
        "weak_method_share_pct": pct(by_strength[WEAK], len(with_mfa)),
        "privileged_phishing_resistant": sum(1 for u in privileged if strongest(u) == PHISHING_RESISTANT),
        # privileged only through PIM-eligible (not active) assignments: counted as privileged, shown apart
        "privileged_eligible_only": sum(1 for u in privileged
                                        if all(r.get("assignment") == "eligible" for r in u.privileged_roles)),
        **enforcement_metrics(in_scope, privileged, enforcement_mode),
        **exception_metrics(in_scope, privileged, excepted, enforcement_mode),
        "exceptions_expired": expired_exceptions,
    }


def snapshot_user_row(user):
    """One entry of PostureSnapshot.users (keys documented on the model)."""
    reason = scope_reason(user)
    return {
        "graph_id": user.graph_id,
        "upn": user.upn,
        "display_name": user.display_name,
        "user_type": user.user_type,
        "account_enabled": user.account_enabled,
        "in_scope": reason == IN_SCOPE,
        "scope_reason": reason,
        "mfa_registered": user.mfa_registered,
        "method_types": list(user.method_types),
        "strongest": strongest(user),
        "mfa_source": user.mfa_source,
        "privileged_roles": [dict(r) for r in user.privileged_roles],
        "enforcement": dict(user.enforcement) if user.enforcement else not_read_record(NOT_READ_DETAIL),
        "protected": is_protected(user),
    }


# Where a snapshot's users came from (provenance["source"]); snapshots taken
# before customer tenants existed all came from the MSP's tenant.
MSP_SOURCE_LABEL = "Matched by UPN domain in the MSP's Microsoft 365 tenant"


def posture_source(provenance):
    """{"kind", "label"} of a snapshot's source, for every page and pack that shows posture."""
    source = provenance.get("source") if isinstance(provenance, dict) else None
    if isinstance(source, dict) and source.get("kind") == "customer_tenant":
        return {"kind": "customer_tenant", "label": str(source.get("label") or "The customer's own Microsoft 365 tenant")}
    return {"kind": "msp_tenant", "label": MSP_SOURCE_LABEL}
