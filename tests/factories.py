"""One place for test data: users, customers and posture snapshots.

Snapshot rows and metrics come from the real posture code
(security.posture.snapshot_user_row and posture_metrics), the same functions
the posture sync stores with, so a test snapshot cannot drift from a real one
or hold a combination of figures the sync could never write.

Absolute imports only: tests/compliance/test_compliance_packs.py imports this module in
a subprocess with tests/ on sys.path.
"""

from datetime import date, datetime, timezone

from accounts.models import User
from customers.models import Customer, CustomerDomain
from security.models import PostureSnapshot
from security.posture import (
    MODE_ENFORCEMENT,
    MODE_REGISTRATION_ONLY,
    ObservedUser,
    posture_metrics,
    snapshot_user_row,
)

PASSWORD = "correct-horse-battery-staple"


def make_user(username, role, work_email=None, **extra):
    return User.objects.create_user(
        username=username, password=PASSWORD, work_email=work_email or f"{username}@msp.example", role=role, **extra
    )


def make_customer(name, *domains):
    """A customer and its domains as plain rows (no audit entry: that is customer_create's job, tested on its own)."""
    customer = Customer.objects.create(name=name)
    CustomerDomain.objects.bulk_create([CustomerDomain(customer=customer, domain=d) for d in domains])
    return customer


# ------------------------------------------------------------------ posture snapshots

GLOBAL_ADMIN = {"template_id": "62e90394-69f5-4237-9190-012177145e10", "name": "Global Administrator"}
EXCHANGE_ADMIN = {"template_id": "29232cdf-9323-42fd-ade2-1d097af3e4de", "name": "Exchange Administrator"}

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


# The same provenance, collected with Policy.Read.All so enforcement was read.
ENFORCED_PROVENANCE = dict(PROVENANCE, enforcement_mode=MODE_ENFORCEMENT)


def enforcement(state="enforced", reason="policy", policy="CA001: Require MFA", detail="included as all users; requires MFA"):
    """A security.enforcement record for one user (default: enforced by a Conditional Access policy)."""
    return {"state": state, "reason": reason, "reason_label": reason, "policy_id": "id-ca001" if policy else "",
            "policy_name": policy, "detail": detail, "policies": []}


def observed_user(upn, name=None, *, mfa=True, roles=(), user_type="member", enabled=True, methods=None, source="report",
                  enforced=None):
    """One collected directory user. mfa: True, False or None (the data could not decide).
    enforced: an enforcement() record; by default enforced by a policy, which counts only in
    snapshots whose provenance says enforcement was read."""
    if methods is None:
        methods = ["microsoftAuthenticatorPush"] if mfa else []
    return ObservedUser(
        graph_id=f"id-{upn}", upn=upn, display_name=name if name is not None else upn.split("@")[0].title(),
        user_type=user_type, account_enabled=enabled, mfa_registered=mfa,
        method_types=tuple(methods) if mfa is not None else (), mfa_source=source if mfa is not None else "",
        privileged_roles=tuple(dict(r) for r in roles), enforcement=enforced or enforcement(),
    )


def user(upn, name=None, *, exception=None, **kwargs):
    """One PostureSnapshot.users row, as the posture sync writes it (arguments as observed_user's;
    exception: the documented MFA exception in force for this user, as security.services stores it)."""
    return {**snapshot_user_row(observed_user(upn, name, **kwargs)), "exception": exception}


def _observed_from_row(row):
    return ObservedUser(
        graph_id=row["graph_id"], upn=row["upn"], display_name=row["display_name"], user_type=row["user_type"],
        account_enabled=row["account_enabled"], mfa_registered=row["mfa_registered"],
        method_types=tuple(row["method_types"]), mfa_source=row["mfa_source"],
        privileged_roles=tuple(dict(r) for r in row["privileged_roles"]), enforcement=row.get("enforcement"),
    )


def metrics_for(rows, *, enforcement_mode=MODE_REGISTRATION_ONLY):
    """The metrics the posture sync stores beside these rows."""
    return posture_metrics([_observed_from_row(r) for r in rows], enforcement_mode=enforcement_mode)


def make_snapshot(customer, users, *, taken_on=date(2025, 6, 1), as_of=None, provenance=None, metrics=None, save=True):
    """A snapshot of these user rows; metrics computed from them unless a test tampers with them on purpose."""
    provenance = dict(PROVENANCE) if provenance is None else provenance
    mode = provenance.get("enforcement_mode") or MODE_REGISTRATION_ONLY
    snapshot = PostureSnapshot(
        customer=customer, taken_on=taken_on,
        as_of=as_of or datetime(taken_on.year, taken_on.month, taken_on.day, 2, 0, 41, tzinfo=timezone.utc),
        users=users, metrics=metrics if metrics is not None else metrics_for(users, enforcement_mode=mode),
        provenance=provenance,
    )
    if save:
        snapshot.save()
    return snapshot


def population(*, members=0, mfa=0, weak=0, unknown=0, privileged=0, privileged_mfa=0, privileged_unknown=0,
               guests=0, disabled=0, domain="northwind.example"):
    """Snapshot rows for a population given by its counts. `members` in-scope users, the first
    `privileged` of them Global Administrators; `mfa` registered (`privileged_mfa` of them
    privileged), `weak` of the non-privileged registered ones with only a weak method; `unknown`
    undecided (`privileged_unknown` of them privileged); the rest not registered. Guests and
    disabled accounts come on top, out of scope."""
    assert privileged_mfa + privileged_unknown <= privileged <= members and mfa + unknown <= members
    assert privileged_mfa <= mfa and privileged_unknown <= unknown and weak <= mfa - privileged_mfa
    privileged_states = [True] * privileged_mfa + [None] * privileged_unknown
    privileged_states += [False] * (privileged - len(privileged_states))
    other_states = ["weak"] * weak + [True] * (mfa - privileged_mfa - weak) + [None] * (unknown - privileged_unknown)
    other_states += [False] * (members - privileged - len(other_states))
    rows = [user(f"user{n:04}@{domain}", f"User {n}", mfa=state, roles=[GLOBAL_ADMIN])
            for n, state in enumerate(privileged_states)]
    for n, state in enumerate(other_states, start=privileged):
        weak_only = state == "weak"
        rows.append(user(f"user{n:04}@{domain}", f"User {n}", mfa=True if weak_only else state,
                         methods=["mobilePhone"] if weak_only else None))
    rows += [user(f"guest{n:03}@partner.example", mfa=False, user_type="guest") for n in range(guests)]
    rows += [user(f"gone{n:03}@{domain}", mfa=False, enabled=False) for n in range(disabled)]
    return rows


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
