"""Posture snapshots for the compliance tests, built directly from the keys
documented on security.models.PostureSnapshot (the posture sync is not needed).

The one test here checks that these rows and metrics have the same shape as
what security.posture writes, so the compliance tests cannot drift from the
real snapshots.
"""

from datetime import date, datetime, timezone

import pytest

GLOBAL_ADMIN = {"template_id": "62e90394-69f5-4237-9190-012177145e10", "name": "Global Administrator"}
EXCHANGE_ADMIN = {"template_id": "29232cdf-9323-42fd-ade2-1d097af3e4de", "name": "Exchange Administrator"}

STRENGTH = {"fido2": "phishing_resistant", "windowsHelloForBusiness": "phishing_resistant",
            "microsoftAuthenticatorPush": "standard", "softwareOneTimePasscode": "standard", "mobilePhone": "weak"}
RANK = ["weak", "standard", "phishing_resistant"]

PROVENANCE = {
    "tenant_id": "6f1c2d3e-0000-4000-8000-00000000c0de",
    "tenant_name": "Northwind Traders",
    "graph_base_url": "https://graph.microsoft.com/v1.0",
    "api_version": "v1.0",
    "endpoints": ["GET /organization", "GET /users", "GET /reports/authenticationMethods/userRegistrationDetails",
                  "GET /directoryRoles", "GET /directoryRoles/{id}/members"],
    "permissions_granted": ["Directory.Read.All", "Reports.Read.All", "User.Read.All",
                            "UserAuthenticationMethod.Read.All"],
    "mfa_source": "report",
    "report_unavailable_reason": "",
    "collection_started": "2025-06-01T02:00:00+00:00",
    "collection_finished": "2025-06-01T02:00:41+00:00",
    "privileged_role_rule": [dict(GLOBAL_ADMIN, why="microsoft"), dict(EXCHANGE_ADMIN, why="msp")],
    "app_version": "0.1.0",
}


# The same snapshot, collected with Policy.Read.All so enforcement was read.
ENFORCED_PROVENANCE = dict(PROVENANCE, enforcement_mode="enforcement")


def enforcement(state="enforced", reason="policy", policy="CA001: Require MFA", detail="included as all users; requires MFA"):
    return {"state": state, "reason": reason, "reason_label": reason, "policy_id": "id-ca001" if policy else "",
            "policy_name": policy, "detail": detail, "policies": []}


def user(upn, name=None, *, mfa=True, roles=(), user_type="member", enabled=True, methods=None, source="report",
         enforced=None):
    """One PostureSnapshot.users entry. mfa: True, False or None (the data could not decide).
    enforced: an enforcement() record; default enforced by a policy (counts only where provenance says
    enforcement was read)."""
    if methods is None:
        methods = ["microsoftAuthenticatorPush"] if mfa else []
    record = enforced or enforcement()
    reason = "guest" if user_type == "guest" else ("disabled" if not enabled else "in_scope")
    if mfa is None:
        strongest = "unknown"
    elif not mfa:
        strongest = "none"
    else:
        strongest = max((STRENGTH.get(m, "standard") for m in methods), key=RANK.index, default="none")
    return {
        "graph_id": f"id-{upn}", "upn": upn, "display_name": name if name is not None else upn.split("@")[0].title(),
        "user_type": user_type, "account_enabled": enabled, "in_scope": reason == "in_scope",
        "scope_reason": reason, "mfa_registered": mfa, "method_types": list(methods) if mfa is not None else [],
        "strongest": strongest, "mfa_source": source if mfa is not None else "", "privileged_roles": [dict(r) for r in roles],
        "enforcement": record, "protected": None if record["state"] == "unknown" else (mfa if record["state"] == "enforced" else False),
    }


def metrics_for(users):
    """The stored metrics a snapshot would carry (the count keys the pack cross-checks)."""
    in_scope = [u for u in users if u["in_scope"]]
    privileged = [u for u in in_scope if u["privileged_roles"]]

    def count(rows, value):
        return sum(1 for u in rows if u["mfa_registered"] is value)

    return {
        "users_total": len(users), "in_scope": len(in_scope),
        "excluded_guests": sum(1 for u in users if u["scope_reason"] == "guest"),
        "excluded_disabled": sum(1 for u in users if u["scope_reason"] == "disabled"),
        "mfa_registered": count(in_scope, True), "mfa_not_registered": count(in_scope, False),
        "mfa_unknown": count(in_scope, None),
        "privileged_total": sum(1 for u in users if u["privileged_roles"]),
        "privileged_in_scope": len(privileged),
        "privileged_mfa_registered": count(privileged, True),
        "privileged_mfa_not_registered": count(privileged, False),
        "privileged_mfa_unknown": count(privileged, None),
    }


def make_snapshot(customer, users, *, taken_on=date(2025, 6, 1), as_of=None, provenance=None, metrics=None):
    from security.models import PostureSnapshot

    return PostureSnapshot.objects.create(
        customer=customer, taken_on=taken_on,
        as_of=as_of or datetime(taken_on.year, taken_on.month, taken_on.day, 2, 0, 41, tzinfo=timezone.utc),
        users=users, metrics=metrics if metrics is not None else metrics_for(users),
        provenance=dict(PROVENANCE) if provenance is None else provenance,
    )


# --- known populations --------------------------------------------------------

def all_covered():
    return [
        user("alice@northwind.example", "Alice Admin", roles=[GLOBAL_ADMIN], methods=["fido2"]),
        user("bob@northwind.example", "Bob Builder"),
        user("carol@northwind.example", "Carol Chen", methods=["mobilePhone"]),
        user("guest_x@partner.example", "Gail Guest", mfa=False, user_type="guest"),
        user("dave@northwind.example", "Dave Disabled", mfa=False, enabled=False),
    ]


def one_privileged_missing():
    return [
        user("alice@northwind.example", "Alice Admin", roles=[GLOBAL_ADMIN], methods=["fido2"]),
        user("erin@northwind.example", "Erin Exchange", mfa=False, roles=[EXCHANGE_ADMIN]),
        user("bob@northwind.example", "Bob Builder"),
        user("carol@northwind.example", "Carol Chen"),
    ]


def with_unknowns():
    return [
        user("alice@northwind.example", "Alice Admin", roles=[GLOBAL_ADMIN], methods=["fido2"]),
        user("uma@northwind.example", "Uma Unknown", mfa=None),
        user("bob@northwind.example", "Bob Builder"),
    ]


def no_privileged():
    return [
        user("bob@northwind.example", "Bob Builder"),
        user("carol@northwind.example", "Carol Chen"),
        user("frank@northwind.example", "Frank Free", mfa=False),
    ]


def test_factory_rows_match_what_the_posture_sync_writes():
    posture = pytest.importorskip("security.posture")
    observed = posture.ObservedUser(
        graph_id="id-erin@northwind.example", upn="erin@northwind.example", display_name="Erin Exchange",
        mfa_registered=False, method_types=(), mfa_source="report", privileged_roles=(EXCHANGE_ADMIN,),
        enforcement=enforcement())
    real = posture.snapshot_user_row(observed)
    ours = user("erin@northwind.example", "Erin Exchange", mfa=False, roles=[EXCHANGE_ADMIN])
    assert set(ours) == set(real)
    assert ours == real
    real_metrics = posture.posture_metrics([observed])
    ours_metrics = metrics_for([ours])
    assert {k: real_metrics[k] for k in ours_metrics} == ours_metrics
