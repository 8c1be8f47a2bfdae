"""Reads for one customer's posture (the hub section and the customer page).

Every figure shown comes from the snapshot, so the page and an evidence pack
built from the same snapshot agree. One query, whatever the data size: the
latest snapshot and the metrics of the last 90 days for the trend.
The cross-customer rollup lives in rollup.py.
"""


from django.db.models import Case, F, JSONField, Subquery, When

from customers.windows import POSTURE_TREND_DAYS, trend_first_day

from .enforcement import REASON_LABELS, STATE_LABELS
from .exceptions import EXCEPTION_RULE
from .metrics import signal_cell, signal_list
from .models import PostureSnapshot
from .posture import MODE_ENFORCEMENT, PROTECTED_RULE, REGISTRATION_CAVEAT, SCOPE_RULE, posture_source
from .privileged import PRIVILEGED_ROLES, role_label
from .rollup import customer_no_posture_reason
from .strength import STRENGTH_LABELS, method_name, method_strength, strength_table
from .trend import trend_chart

HUB_LIST_LIMIT = 10
SOURCE_LABELS = {
    "report": "Registration report (userRegistrationDetails)",
    "methods": "Per-user authentication methods (fallback, via $batch)",
}
STRENGTH_CSS = {"phishing_resistant": "tag-good", "standard": "tag-info", "weak": "tag-warn"}
STRONGEST_LABELS = {**STRENGTH_LABELS, "none": "None", "unknown": "Unknown"}
ENFORCEMENT_CSS = {"enforced": "tag-good", "conditional": "tag-warn", "not_enforced": "tag-bad", "unknown": "tag-unknown"}
MODE_LABELS = {
    MODE_ENFORCEMENT: "Enforcement read: Conditional Access, Security Defaults and per-user MFA",
    "registration_only": "Registration only",
}


def enforcement_mode(metrics, provenance):
    """(mode, label, why) for a snapshot: says which mode every posture page is in."""
    mode = (metrics or {}).get("enforcement_mode") or "registration_only"
    why = ((provenance or {}).get("enforcement") or {}).get("why_registration_only") or (
        "This snapshot was collected before enforcement was read." if mode != MODE_ENFORCEMENT else "")
    return mode, MODE_LABELS.get(mode, mode), why


def _methods(types):
    return [
        {"type": t, "name": method_name(t), "strength": method_strength(t), "label": STRENGTH_LABELS[method_strength(t)],
         "css": STRENGTH_CSS.get(method_strength(t), "")}
        for t in types
    ]


def _user_view(row):
    return {
        **row,
        "methods": _methods(row.get("method_types") or []),
        "role_names": [role_label(r) for r in row.get("privileged_roles") or [] if isinstance(r, dict)],
        "strongest_label": STRONGEST_LABELS.get(row.get("strongest"), row.get("strongest") or ""),
        "strongest_css": STRENGTH_CSS.get(row.get("strongest"), ""),
        # split so the page can offer a line break before the @ and nowhere else
        "upn_local": (row.get("upn") or "").rpartition("@")[0],
        "upn_domain": (row.get("upn") or "").rpartition("@")[2],
        **_enforcement_view(row.get("enforcement")),
        "exception": row.get("exception") if isinstance(row.get("exception"), dict) else None,
    }


def _enforcement_view(record):
    record = record if isinstance(record, dict) else {}
    state = record.get("state") or "unknown"
    return {
        "enforcement_state": state,
        "enforcement_label": STATE_LABELS.get(state, state),
        "enforcement_css": ENFORCEMENT_CSS.get(state, ""),
        "enforcement_reason": REASON_LABELS.get(record.get("reason"), record.get("reason") or ""),
        "enforcement_policy": record.get("policy_name") or "",
        "enforcement_detail": record.get("detail") or "",
    }


def _mfa_order(row):
    # Most urgent first: no MFA, then unknown, then registered.
    return ({False: 0, None: 1, True: 2}.get(row.get("mfa_registered"), 1), row.get("upn", ""))


def _latest_and_history(customer_id):
    """The latest snapshot (whole) and the taken_on and metrics of every
    snapshot in the POSTURE_TREND_DAYS up to it, oldest first: one query. At most one
    snapshot a day, so the window is within the newest POSTURE_TREND_DAYS rows; only
    the newest row brings its users and provenance (the big columns)."""
    newest = PostureSnapshot.objects.filter(customer_id=customer_id).order_by("-taken_on").values("pk")[:1]

    def newest_only(column):
        return Case(When(pk=Subquery(newest), then=F(column)), default=None, output_field=JSONField())

    rows = list(
        PostureSnapshot.objects.filter(customer_id=customer_id).order_by("-taken_on")
        .annotate(newest_users=newest_only("users"), newest_provenance=newest_only("provenance"))
        .values("pk", "taken_on", "as_of", "metrics", "newest_users", "newest_provenance")[:POSTURE_TREND_DAYS]
    )
    if not rows:
        return None, []
    top = rows[0]
    latest = PostureSnapshot(pk=top["pk"], customer_id=customer_id, taken_on=top["taken_on"], as_of=top["as_of"],
                             metrics=top["metrics"], users=top["newest_users"] or [],
                             provenance=top["newest_provenance"] or {})
    since = trend_first_day(latest.taken_on)
    history = [{"taken_on": row["taken_on"], "metrics": row["metrics"]} for row in reversed(rows) if row["taken_on"] >= since]
    return latest, history


def _trend(snapshots, end):
    series = [
        {"key": "coverage", "label": "MFA coverage", "points": [(s["taken_on"], s["metrics"].get("coverage_pct")) for s in snapshots]},
        {"key": "privileged", "label": "Privileged MFA", "points": [(s["taken_on"], s["metrics"].get("privileged_mfa_pct")) for s in snapshots]},
        # Only days whose snapshot read enforcement have a value: the line starts when Policy.Read.All was granted.
        {"key": "protected", "label": "MFA protected", "points": [(s["taken_on"], s["metrics"].get("protected_pct")) for s in snapshots]},
    ]
    return trend_chart(series, end=end, days=POSTURE_TREND_DAYS)


def customer_posture(customer_id, *, list_limit=None):
    """Everything the posture section shows for one customer, or None before
    the first snapshot. list_limit caps the user lists (the hub shows the
    first few and links to the full page)."""
    latest, history = _latest_and_history(customer_id)
    if latest is None:
        return None
    previous = history[-2]["metrics"] if len(history) > 1 else None
    users = latest.users or []
    privileged = sorted((u for u in users if u.get("privileged_roles")), key=_mfa_order)
    without_mfa = [u for u in users if u.get("in_scope") and u.get("mfa_registered") is False]
    unknown = [u for u in users if u.get("in_scope") and u.get("mfa_registered") is None]
    provenance = latest.provenance or {}
    mode, mode_label, why_registration_only = enforcement_mode(latest.metrics, provenance)
    not_enforced = [u for u in users if u.get("in_scope") and (u.get("enforcement") or {}).get("state") in ("not_enforced", "conditional")]
    limit = list_limit or len(users) or 1
    return {
        "snapshot": latest,
        "metrics": latest.metrics,
        "signals": [signal_cell(s, latest.metrics, previous) for s in signal_list()],
        "previous_on": history[-2]["taken_on"] if len(history) > 1 else None,
        "privileged": [_user_view(u) for u in privileged[:limit]],
        "privileged_more": max(0, len(privileged) - limit),
        "without_mfa": [_user_view(u) for u in without_mfa[:limit]],
        "without_mfa_more": max(0, len(without_mfa) - limit),
        "unknown_count": len(unknown),
        "trend": _trend(history, latest.taken_on),
        "snapshot_count": len(history),
        "provenance": provenance,
        "source_label": SOURCE_LABELS.get(provenance.get("mfa_source"), "Unknown"),
        "posture_source": posture_source(provenance),
        "role_rule": provenance.get("privileged_role_rule") or [
            {"template_id": r.template_id, "name": r.name, "why": r.why} for r in PRIVILEGED_ROLES
        ],
        "non_user_members": provenance.get("role_members_not_users") or {},
        "strength_table": strength_table(),
        "scope_rule": SCOPE_RULE,
        "caveat": REGISTRATION_CAVEAT,
        "enforcement_read": mode == MODE_ENFORCEMENT,
        "mode_label": mode_label,
        "why_registration_only": why_registration_only,
        "protected_rule": PROTECTED_RULE,
        "not_enforced": [_user_view(u) for u in not_enforced[:limit]],
        "not_enforced_more": max(0, len(not_enforced) - limit),
        "not_enforced_count": len(not_enforced),
        "enforcement_source": provenance.get("enforcement") or {},
        "exceptions_in_force": (provenance.get("exceptions") or {}).get("in_force") or [],
        "exceptions_expired": (provenance.get("exceptions") or {}).get("expired") or [],
        "exception_rule": EXCEPTION_RULE,
        "eligible_roles": provenance.get("eligible_roles") or {},
        "role_groups": provenance.get("role_groups_expanded") or {},
        "non_user_holders": [h for h in provenance.get("role_holders_not_users") or [] if isinstance(h, dict)],
    }


def posture_for_hub(customer):
    """The hub's Security posture section context (registered in security/apps.py)."""
    posture = customer_posture(customer.pk, list_limit=HUB_LIST_LIMIT)
    return {"posture": posture, "posture_customer_id": customer.pk,
            "no_posture_reason": "" if posture else customer_no_posture_reason(customer.pk)}


USER_FILTERS = {
    "all": ("All users", lambda u: True),
    "in_scope": ("In scope", lambda u: u.get("in_scope")),
    "without_mfa": ("In scope without MFA", lambda u: u.get("in_scope") and u.get("mfa_registered") is False),
    "unknown": ("MFA unknown", lambda u: u.get("in_scope") and u.get("mfa_registered") is None),
    "privileged": ("Privileged", lambda u: bool(u.get("privileged_roles"))),
    "not_enforced": ("In scope, MFA not enforced", lambda u: u.get("in_scope") and (
        (u.get("enforcement") or {}).get("state") in ("not_enforced", "conditional"))),
    "not_protected": ("In scope, not protected", lambda u: u.get("in_scope") and u.get("protected") is False),
    "excepted": ("Documented exception", lambda u: bool(u.get("exception"))),
    "out_of_scope": ("Out of scope", lambda u: not u.get("in_scope")),
}


def snapshot_users(snapshot, filter_key):
    """The snapshot's users matching one of USER_FILTERS, urgent first."""
    _, keep = USER_FILTERS.get(filter_key, USER_FILTERS["all"])
    return [_user_view(u) for u in sorted((u for u in snapshot.users or [] if keep(u)), key=_mfa_order)]
