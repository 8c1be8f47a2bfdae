"""The account population of one posture snapshot, read from its `users` list.

Every figure in a pack is recomputed here from the per-user rows, never taken
from the snapshot's stored metrics: the figures must agree with the named
users in users.csv by construction. The stored metrics are only compared
against the recount (`metric_mismatches`) so a disagreement is shown, not hidden.
"""

from dataclasses import dataclass

from security.privileged import role_label

# Labels for the scope reasons security.posture writes; other values are shown as they are.
SCOPE_REASON_LABELS = {
    "in_scope": "In scope: enabled member account",
    "guest": "Out of scope: guest account",
    "disabled": "Out of scope: account disabled",
}

# Stored metrics keys that a recount can check, with how to recount each.
_RECOUNTS = {
    "users_total": lambda p: len(p.accounts),
    "in_scope": lambda p: len(p.in_scope),
    "excluded_guests": lambda p: sum(1 for a in p.accounts if a.scope_reason == "guest"),
    "excluded_disabled": lambda p: sum(1 for a in p.accounts if a.scope_reason == "disabled"),
    "mfa_registered": lambda p: sum(1 for a in p.in_scope if a.mfa_registered is True),
    "mfa_not_registered": lambda p: sum(1 for a in p.in_scope if a.mfa_registered is False),
    "mfa_unknown": lambda p: sum(1 for a in p.in_scope if a.mfa_registered is None),
    "privileged_total": lambda p: len(p.privileged),
    "privileged_in_scope": lambda p: len(p.privileged_in_scope),
    "privileged_out_of_scope": lambda p: len(p.privileged) - len(p.privileged_in_scope),
    "privileged_mfa_registered": lambda p: sum(1 for a in p.privileged_in_scope if a.mfa_registered is True),
    "privileged_mfa_not_registered": lambda p: sum(1 for a in p.privileged_in_scope if a.mfa_registered is False),
    "privileged_mfa_unknown": lambda p: sum(1 for a in p.privileged_in_scope if a.mfa_registered is None),
}


class SnapshotUnreadable(ValueError):
    """The snapshot's user list lacks what a pack needs; the message says which entry and key."""


@dataclass(frozen=True)
class Account:
    graph_id: str
    upn: str
    display_name: str
    user_type: str
    account_enabled: bool | None
    in_scope: bool
    scope_reason: str
    mfa_registered: bool | None  # None: the data could not decide
    method_types: tuple
    strongest: str
    mfa_source: str
    roles: tuple  # ((name, template_id), ...) sorted by name
    # MFA enforcement (security.enforcement); "unknown" when not read
    enforcement_state: str = "unknown"
    enforcement_reason: str = ""
    enforcement_policy: str = ""
    enforcement_policy_id: str = ""
    enforcement_detail: str = ""
    protected: bool | None = None  # registered AND enforced; None: not decidable
    exception: dict | None = None  # documented MFA exception in force at collection

    @property
    def label(self):
        """How a person is named in the evidence: display name with the UPN that identifies them."""
        name = self.display_name.strip()
        return f"{name} ({self.upn})" if name and name != self.upn else self.upn

    @property
    def is_privileged(self):
        return bool(self.roles)

    @property
    def role_names(self):
        return [name for name, _ in self.roles]

    @property
    def scope_label(self):
        return SCOPE_REASON_LABELS.get(self.scope_reason, self.scope_reason or ("In scope" if self.in_scope else "Out of scope"))

    @property
    def mfa_label(self):
        return {True: "registered", False: "not registered", None: "unknown"}[self.mfa_registered]

    @property
    def protected_label(self):
        return {True: "protected", False: "not protected", None: "unknown"}[self.protected]


def _text(value):
    return "" if value is None else str(value)


def _roles(value, where):
    roles = []
    for role in value or []:
        if isinstance(role, dict):
            roles.append((_text(role_label(role)), _text(role.get("template_id"))))
        elif isinstance(role, str):
            roles.append((role, ""))
        else:
            raise SnapshotUnreadable(f"{where}: privileged_roles holds {role!r}, not a role")
    return tuple(sorted(set(roles), key=lambda r: (r[0].casefold(), r[1])))


def account_from_row(row, index):
    where = f"users[{index}]"
    if not isinstance(row, dict):
        raise SnapshotUnreadable(f"{where} is not an object")
    for key in ("graph_id", "upn", "in_scope"):
        if row.get(key) in (None, ""):
            raise SnapshotUnreadable(f"{where} has no {key!r}")
    if not isinstance(row["in_scope"], bool):
        raise SnapshotUnreadable(f"{where}.in_scope is {row['in_scope']!r}, not true or false")
    mfa = row.get("mfa_registered")
    if mfa not in (True, False, None):
        raise SnapshotUnreadable(f"{where}.mfa_registered is {mfa!r}, not true, false or null")
    enforcement = row.get("enforcement") if isinstance(row.get("enforcement"), dict) else {}
    protected = row.get("protected")
    if protected not in (True, False, None):
        raise SnapshotUnreadable(f"{where}.protected is {protected!r}, not true, false or null")
    return Account(
        enforcement_state=_text(enforcement.get("state")) or "unknown",
        enforcement_reason=_text(enforcement.get("reason_label") or enforcement.get("reason")),
        enforcement_policy=_text(enforcement.get("policy_name")),
        enforcement_policy_id=_text(enforcement.get("policy_id")),
        enforcement_detail=_text(enforcement.get("detail")),
        protected=protected,
        exception=row["exception"] if isinstance(row.get("exception"), dict) else None,
        graph_id=_text(row["graph_id"]),
        upn=_text(row["upn"]),
        display_name=_text(row.get("display_name")),
        user_type=_text(row.get("user_type")),
        account_enabled=row.get("account_enabled"),
        in_scope=row["in_scope"],
        scope_reason=_text(row.get("scope_reason")),
        mfa_registered=mfa,
        method_types=tuple(sorted({_text(m) for m in row.get("method_types") or []}, key=str.casefold)),
        strongest=_text(row.get("strongest")) or ("unknown" if mfa is None else ""),
        mfa_source=_text(row.get("mfa_source")),
        roles=_roles(row.get("privileged_roles"), where),
    )


class Population:
    """All accounts of a snapshot in a fixed order (UPN, then object id), and the groups rows measure."""

    def __init__(self, user_rows):
        if not isinstance(user_rows, list):
            raise SnapshotUnreadable("the snapshot's users is not a list")
        accounts = [account_from_row(row, i) for i, row in enumerate(user_rows)]
        self.accounts = sorted(accounts, key=lambda a: (a.upn.casefold(), a.upn, a.graph_id))
        self.in_scope = [a for a in self.accounts if a.in_scope]
        self.excluded = [a for a in self.accounts if not a.in_scope]
        self.privileged = [a for a in self.accounts if a.is_privileged]
        self.privileged_in_scope = [a for a in self.in_scope if a.is_privileged]
        self.non_privileged_in_scope = [a for a in self.in_scope if not a.is_privileged]

    def excluded_by_reason(self):
        """{scope_reason: count} for the accounts out of scope, sorted by reason."""
        counts = {}
        for account in self.excluded:
            counts[account.scope_reason or "unspecified"] = counts.get(account.scope_reason or "unspecified", 0) + 1
        return dict(sorted(counts.items()))

    def role_counts(self):
        """[(role name, holders)] over every privileged role holder, most held first."""
        counts = {}
        for account in self.privileged:
            for name in account.role_names:
                counts[name] = counts.get(name, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold()))

    def duplicates(self):
        """Accounts sharing an object id or a UPN (UPNs compared case-insensitively)."""
        seen_ids, seen_upns, clashing = {}, {}, []
        for account in self.accounts:
            for seen, key in ((seen_ids, account.graph_id), (seen_upns, account.upn.casefold())):
                if key in seen:
                    clashing.extend(a for a in (seen[key], account) if not any(a is c for c in clashing))
                seen.setdefault(key, account)
        return clashing

    def metric_mismatches(self, metrics):
        """[(key, stored, recounted)] where the snapshot's stored metrics disagree with its user list."""
        mismatches = []
        for key, recount in _RECOUNTS.items():
            if isinstance(metrics, dict) and key in metrics and metrics[key] != recount(self):
                mismatches.append((key, metrics[key], recount(self)))
        return mismatches

    def compared_metric_keys(self, metrics):
        return [key for key in _RECOUNTS if isinstance(metrics, dict) and key in metrics]
