"""Snapshot -> control rows: pure functions, no database and no clock.

Each row states what was measured, the figure, the rule applied and a result
with the reason. The rules (also printed on every row):

- MFA rows: "met" when at least the framework's threshold (default 100%) of
  the measured in-scope accounts have MFA *registered*. Accounts whose MFA
  state the data could not decide ("unknown") cannot help a row to "met"
  (they count as not registered), and cannot make it "not met" either (they
  count as registered): a result that depends on them is "not evidenced",
  and they are listed by name. Registration is not enforcement; no row
  claims that sign-in requires MFA.
- Where the collection read MFA enforcement (Policy.Read.All), the MFA rows
  are evaluated on *protected*: registered AND required at sign-in by an
  enabled Conditional Access policy, Security Defaults or per-user MFA.
  Where it did not, those rows say enforcement could not be evidenced and can
  never be "met" (registration alone cannot show sign-in requires MFA).
- An empty population is "not evidenced": nothing was measured.
- Rows that need a human judgement (least privilege, access authorisation,
  joiner/leaver) are "not evidenced" with the list the reviewer needs.
- Every failing, unknown or for-review account is named (display name and
  UPN), never only counted.
"""

from dataclasses import dataclass, field, replace

from .controls import Framework
from .population import Population

MET = "met"
NOT_MET = "not_met"
NOT_EVIDENCED = "not_evidenced"
RESULT_LABELS = {MET: "Met", NOT_MET: "Not met", NOT_EVIDENCED: "Not evidenced"}

# Kinds of named account lists a row can carry.
FAILING = "failing"
UNKNOWN = "unknown"
REVIEW = "review"
EXCLUDED = "excluded"

ENFORCEMENT_MODE = "enforcement"
NOT_EVIDENCED_WITHOUT_ENFORCEMENT = (
    "Enforcement could not be evidenced: this collection did not read Conditional Access, Security Defaults "
    "or per-user MFA (the optional Policy.Read.All permission), so registration alone cannot show that "
    "sign-in requires MFA and this row cannot be met."
)
PROTECTED_MEASURED = (
    " Enforcement: every Conditional Access policy, the authentication strengths they use, Security Defaults "
    "and per-user MFA (beta API) were read at collection and evaluated per account (enforcement.csv gives each "
    "account's state, policy and reason; conditional_access_policies.json the policies). Protected means MFA "
    "registered AND enforced for all apps without conditions."
)
REGISTERED_NOT_ENFORCED = (
    "Figures show MFA registration, not enforcement: a registered account may still sign in without "
    "MFA unless Conditional Access or Security Defaults require it, and this pack does not read those policies."
)


@dataclass(frozen=True)
class NamedAccounts:
    kind: str  # FAILING | UNKNOWN | REVIEW | EXCLUDED
    heading: str
    accounts: tuple


@dataclass(frozen=True)
class ControlRow:
    control: object  # controls.Control
    measured: str
    figure: str
    rule: str
    result: str
    why: str
    named: tuple = ()  # NamedAccounts, in display order

    @property
    def result_label(self):
        return RESULT_LABELS[self.result]

    def accounts_of(self, kind):
        return [a for group in self.named if group.kind == kind for a in group.accounts]


@dataclass(frozen=True)
class Evaluation:
    framework: Framework
    threshold: int
    population: Population
    rows: tuple
    metric_mismatches: tuple = ()
    compared_metrics: tuple = ()
    result_counts: dict = field(default_factory=dict)


def pct(numerator, denominator):
    """A percentage as text, rounded DOWN to one decimal (99.95 -> "99.9"), so "100.0" means everyone.
    Always one decimal, as the security pages print it: the pack and the page say "75.0%" alike."""
    tenths = numerator * 1000 // denominator
    return f"{tenths // 10}.{tenths % 10}"


def reaches(count, total, threshold):
    """count/total >= threshold% in integer arithmetic (no float rounding at the boundary)."""
    return count * 100 >= threshold * total


def plural(count, singular, plural_form=None):
    return f"{count} {singular if count == 1 else (plural_form or singular + 's')}"


def _named(kind, heading, accounts):
    return (NamedAccounts(kind, heading, tuple(accounts)),) if accounts else ()


# --- MFA rows ---------------------------------------------------------------

MFA_MEASURED = (
    "MFA registration state of each {noun}, from the Entra ID registration report or, without it, each "
    "account's registered method types. Registered means at least one MFA method type (phone, app, OTP, "
    "FIDO2, Windows Hello...); password, email and temporary access pass do not count."
)


def mfa_rule(threshold, noun):
    return (
        f"Met when at least {threshold}% of {noun}s have MFA registered, counting accounts of unknown "
        f"state as not registered. Not met when {threshold}% is missed even if every unknown account "
        f"were registered. Otherwise not evidenced. An empty population is not evidenced."
    )


def mfa_row(control, accounts, threshold, noun, *, measured=None, context="", excluded=(), excluded_heading=""):
    """The threshold rule over one population of in-scope accounts; see the module docstring."""
    registered = [a for a in accounts if a.mfa_registered is True]
    missing = [a for a in accounts if a.mfa_registered is False]
    unknown = [a for a in accounts if a.mfa_registered is None]
    total = len(accounts)
    weak = [a for a in registered if a.strongest == "weak"]

    if total == 0:
        figure = f"0 {noun}s in this snapshot."
    else:
        figure = f"{len(registered)} of {plural(total, noun)} registered for MFA; {len(missing)} not registered; {len(unknown)} unknown."
        decided = len(registered) + len(missing)
        if decided and unknown:
            figure += f" {pct(len(registered), decided)}% of the {decided} with a known state."
        elif decided:
            figure += f" Coverage {pct(len(registered), decided)}%."
        if weak:
            verb = "relies" if len(weak) == 1 else "rely"
            figure += (f" {plural(len(weak), 'registered account')} {verb} on phone-network methods (SMS or voice) "
                       "as the strongest.")
    if context:
        figure += " " + context

    if total == 0:
        result, why = NOT_EVIDENCED, f"No {noun} in this snapshot, so there is nothing to measure."
    elif reaches(len(registered), total, threshold):
        result = MET
        why = f"{len(registered)} of {total} registered ({pct(len(registered), total)}%), at or above the {threshold}% threshold."
    elif not reaches(len(registered) + len(unknown), total, threshold):
        result = NOT_MET
        best = pct(len(registered) + len(unknown), total)
        why = (f"{plural(len(missing), noun)} not registered (named below): at most {best}% could be registered "
               f"even counting every unknown account, below the {threshold}% threshold.")
    else:
        result = NOT_EVIDENCED
        why = (f"{plural(len(unknown), noun)} of unknown MFA state (the data could not decide; named below). "
               f"The result depends on them, so this pack cannot show it either way.")

    named = (
        _named(FAILING, f"Not registered for MFA ({len(missing)})", missing)
        + _named(UNKNOWN, f"MFA state unknown ({len(unknown)})", unknown)
        + _named(EXCLUDED, excluded_heading.format(n=len(excluded)), excluded)
    )
    return ControlRow(control, measured or MFA_MEASURED.format(noun=noun), figure, mfa_rule(threshold, noun),
                      result, why, named)


def enforcement_was_read(provenance):
    return isinstance(provenance, dict) and provenance.get("enforcement_mode") == ENFORCEMENT_MODE


def protected_rule(threshold, noun):
    return (
        f"Met when at least {threshold}% of {noun}s are protected (MFA registered AND enforced at sign-in), "
        f"counting accounts of unknown state as not protected. Not met when {threshold}% is missed even if "
        f"every unknown account were protected. Otherwise not evidenced. An empty population is not evidenced."
    )


def mfa_check(control, accounts, threshold, noun, provenance, **kwargs):
    """An MFA row: on *protected* where enforcement was read; otherwise the
    registration row, which can then never be met."""
    row = mfa_row(control, accounts, threshold, noun, **kwargs)
    if enforcement_was_read(provenance):
        row = _protected_row(row, accounts, threshold, noun, kwargs.get("excluded", ()), kwargs.get("excluded_heading", ""))
        return _with_exceptions(row, accounts, lambda a: a.protected is True, "protected")
    row = _with_exceptions(row, accounts, lambda a: a.mfa_registered is True, "registered")
    if row.result == MET:
        return replace(row, result=NOT_EVIDENCED, why=row.why + " " + NOT_EVIDENCED_WITHOUT_ENFORCEMENT)
    return replace(row, why=row.why + " " + NOT_EVIDENCED_WITHOUT_ENFORCEMENT)


def _with_exceptions(row, accounts, covered, word):
    """Documented exceptions beside the figure; the result stays on the plain figure."""
    excepted = [a for a in accounts if a.exception]
    if not excepted or not accounts:
        return row
    with_exceptions = sum(1 for a in accounts if covered(a) or a.exception)
    figure = (f"{row.figure} With documented exceptions ({len(excepted)} in force, exceptions.csv): "
              f"{with_exceptions} of {len(accounts)} {word} or excepted ({pct(with_exceptions, len(accounts))}%); "
              "the result above does not count exceptions.")
    return replace(row, figure=figure, named=row.named + _named(REVIEW, f"Documented exceptions ({len(excepted)})", excepted))


def _protected_row(row, accounts, threshold, noun, excluded, excluded_heading):
    protected = [a for a in accounts if a.protected is True]
    unprotected = [a for a in accounts if a.protected is False]
    undecided = [a for a in accounts if a.protected is None]
    total = len(accounts)
    states = {state: sum(1 for a in accounts if a.enforcement_state == state)
              for state in ("enforced", "conditional", "not_enforced")}
    figure = row.figure
    if total:
        figure += (f" Protected (MFA registered AND enforced at sign-in): {len(protected)} of {total} "
                   f"({pct(len(protected), total)}%); MFA enforced for {states['enforced']}, conditional for "
                   f"{states['conditional']}, not enforced for {states['not_enforced']}.")
    if total == 0:
        result, why = NOT_EVIDENCED, f"No {noun} in this snapshot, so there is nothing to measure."
    elif reaches(len(protected), total, threshold):
        result = MET
        why = f"{len(protected)} of {total} protected ({pct(len(protected), total)}%), at or above the {threshold}% threshold."
    elif not reaches(len(protected) + len(undecided), total, threshold):
        result = NOT_MET
        why = (f"{plural(len(unprotected), noun)} not protected (named below with the reason in enforcement.csv): "
               f"at most {pct(len(protected) + len(undecided), total)}% could be protected, below the {threshold}% threshold.")
    else:
        result = NOT_EVIDENCED
        why = (f"{plural(len(undecided), noun)} of unknown MFA state (registration could not be read; named below). "
               "The result depends on them, so this pack cannot show it either way.")
    named = (
        _named(FAILING, f"Not protected: MFA not registered or not enforced ({len(unprotected)})", unprotected)
        + _named(UNKNOWN, f"Protection unknown ({len(undecided)})", undecided)
        + _named(EXCLUDED, excluded_heading.format(n=len(excluded)), excluded)
    )
    return replace(row, measured=row.measured + PROTECTED_MEASURED, figure=figure, rule=protected_rule(threshold, noun),
                   result=result, why=why, named=named)


def check_mfa_privileged(control, population, threshold, provenance):
    out_of_scope = [a for a in population.privileged if not a.in_scope]
    context = ""
    if out_of_scope:
        context = (f"Not counted: {plural(len(out_of_scope), 'privileged role holder')} out of scope "
                   f"(guest or disabled; named below).")
    return mfa_check(control, population.privileged_in_scope, threshold, "in-scope privileged account", provenance,
                     context=context, excluded=out_of_scope,
                   excluded_heading="Privileged role holders out of scope, not counted ({n})")


def check_mfa_non_privileged(control, population, threshold, provenance):
    return mfa_check(control, population.non_privileged_in_scope, threshold, "in-scope non-privileged account", provenance)


def _privileged_context(population):
    holders = population.privileged_in_scope
    if not holders:
        return "No in-scope account holds a privileged role."
    registered = sum(1 for a in holders if a.mfa_registered is True)
    return f"Privileged accounts among them: {registered} of {len(holders)} registered."


def check_mfa_all(control, population, threshold, provenance):
    return mfa_check(control, population.in_scope, threshold, "in-scope account", provenance,
                     context=_privileged_context(population))


def check_mfa_all_external(control, population, threshold, provenance):
    measured = (
        "Microsoft 365 sign-in is reachable from the internet, so every in-scope account is an access path "
        "from outside the system boundary. Measured: " + MFA_MEASURED.format(noun="in-scope account")
    )
    return mfa_check(control, population.in_scope, threshold, "in-scope account", provenance, measured=measured,
                   context=_privileged_context(population))


# --- Privileged accounts ----------------------------------------------------

PRIVILEGED_MEASURED = (
    "Membership of activated Entra ID directory roles (GET /directoryRoles and /directoryRoles/{id}/members), "
    "matched against the privileged-role rule (role template ids, listed under Data provenance). Members of "
    "role-assignable groups holding a role are listed \"via\" the group. Eligible Privileged Identity Management "
    "assignments appear, marked \"PIM eligible\", only where the collection could read them (see Data "
    "provenance); otherwise only active assignments do. Covers "
    "Microsoft 365 only: privileged accounts of other systems (local administrators, servers, network "
    "devices) are outside this pack."
)
NO_PRIVILEGED = (
    "Role data was collected, but no account of this customer holds a privileged role. Accounts that "
    "administer the tenant from outside this customer's domains (for example the MSP's own administrators) "
    "are not part of this customer's population, so this pack cannot identify them."
)


def _privileged_figure(population):
    holders = population.privileged
    if not holders:
        return "0 privileged role holders."
    in_scope = len(population.privileged_in_scope)
    roles = ", ".join(f"{name} {count}" for name, count in population.role_counts())
    return (f"{plural(len(holders), 'privileged role holder')}: {in_scope} in scope, {len(holders) - in_scope} "
            f"out of scope. Holders per role: {roles}.")


def _role_rule(provenance):
    rule = provenance.get("privileged_role_rule") if isinstance(provenance, dict) else None
    return rule if isinstance(rule, list) and rule else None


def check_privileged_identified(control, population, threshold, provenance):
    rule = "Met when the snapshot records the privileged-role rule it applied and at least one account holds a privileged role."
    holders = population.privileged
    named = _named(REVIEW, f"Privileged accounts ({len(holders)})", holders)
    if _role_rule(provenance) is None:
        why = "The snapshot does not record which directory roles were treated as privileged, so the identification cannot be shown."
        return ControlRow(control, PRIVILEGED_MEASURED, _privileged_figure(population), rule, NOT_EVIDENCED, why, named)
    if not holders:
        return ControlRow(control, PRIVILEGED_MEASURED, _privileged_figure(population), rule, NOT_EVIDENCED, NO_PRIVILEGED)
    why = (f"{plural(len(holders), 'account')} identified as holding one or more of the "
           f"{len(_role_rule(provenance))} privileged roles; each is named below with its roles (privileged_users.csv).")
    return ControlRow(control, PRIVILEGED_MEASURED, _privileged_figure(population), rule, MET, why, named)


def check_privileged_review(control, population, threshold, provenance):
    holders = population.privileged
    rule = "Not decided automatically: whether each privileged role is needed and authorised is a human review."
    if not holders:
        why = "Nothing to review from this data. " + NO_PRIVILEGED
    else:
        why = (
            "The directory shows who holds which privileged role, not whether the role is needed for that "
            "person's work or was authorised: that is a reviewer's decision against the customer's access "
            f"records. The {plural(len(holders), 'privileged role holder')} are named below with their roles "
            "as the input to that review (privileged_users.csv)."
        )
    return ControlRow(control, PRIVILEGED_MEASURED, _privileged_figure(population), rule, NOT_EVIDENCED, why,
                      _named(REVIEW, f"For review: privileged accounts ({len(holders)})", holders))


def check_local_access(control, population, threshold, provenance):
    why = (
        "Local access is signing in at the device itself, not over a network. Microsoft 365 data records which "
        "methods an account can use for cloud sign-in; it does not show whether signing in at a workstation "
        "or server console requires MFA. A registered Windows Hello for Business method shows a credential "
        "exists, not that console sign-in requires it. Evidence must come from device configuration (for "
        "example Intune or Group Policy sign-in settings)."
    )
    return ControlRow(control, "Nothing: Microsoft 365 data does not describe local (console) sign-in.",
                      "Not measured.", "Not evaluated by this pack.", NOT_EVIDENCED, why)


# --- Inventory ---------------------------------------------------------------

INVENTORY_MEASURED = (
    "The directory accounts of this customer: users whose UPN domain matches one of the customer's domains, "
    "each with its Entra ID object id and user principal name (users.csv). Accounts in other domains are not "
    "part of this population."
)


def _inventory_figure(population):
    excluded = ", ".join(f"{count} {reason}" for reason, count in population.excluded_by_reason().items())
    figure = f"{plural(len(population.accounts), 'account')} identified: {len(population.in_scope)} in scope (enabled members)"
    return figure + (f"; out of scope: {excluded}." if excluded else "; none out of scope.")


def _uniqueness_row(control, population, why_met):
    rule = "Met when the snapshot lists at least one account and no two accounts share an object id or a UPN."
    figure = _inventory_figure(population)
    duplicates = population.duplicates()
    if not population.accounts:
        return ControlRow(control, INVENTORY_MEASURED, figure, rule, NOT_EVIDENCED,
                          "The snapshot lists no accounts for this customer, so nothing is identified.")
    if duplicates:
        why = f"{plural(len(duplicates), 'account')} share an object id or a UPN with another account (named below)."
        return ControlRow(control, INVENTORY_MEASURED, figure, rule, NOT_MET, why,
                          _named(FAILING, f"Accounts with a shared identifier ({len(duplicates)})", duplicates))
    return ControlRow(control, INVENTORY_MEASURED, figure, rule, MET, why_met.format(n=len(population.accounts)))


def check_user_inventory(control, population, threshold, provenance):
    return _uniqueness_row(control, population, "Each of the {n} accounts is identified by its own object id and UPN (users.csv).")


def check_unique_identification(control, population, threshold, provenance):
    return _uniqueness_row(
        control, population,
        "Each of the {n} accounts has its own object id and UPN (users.csv). Directory data cannot show "
        "whether one account is used by several people; that needs the customer's account policy.")


def check_authentication_inventory(control, population, threshold, provenance):
    accounts = population.in_scope
    registered = sum(1 for a in accounts if a.mfa_registered is True)
    missing = sum(1 for a in accounts if a.mfa_registered is False)
    unknown = len(accounts) - registered - missing
    figure = (f"{plural(len(accounts), 'in-scope account')}: {registered} with MFA registered, {missing} without, "
              f"{unknown} unknown. Every account's registered method types are in users.csv.")
    why = (
        "Registration data lists the methods each account can authenticate with. That authentication is "
        "required before access to each system is a setting of Entra ID sign-in policy and of those systems, "
        "which this pack does not read. users.csv is the population for an assessor's sample."
    )
    return ControlRow(control, "The sign-in methods registered for each in-scope account (method types only).",
                      figure, "Not decided automatically: needs the sign-in configuration.", NOT_EVIDENCED, why)


def check_registration_review(control, population, threshold, provenance):
    stale = [a for a in population.privileged if not a.in_scope]
    figure = _inventory_figure(population)
    if stale:
        verb = "holds" if len(stale) == 1 else "hold"
        figure += f" {plural(len(stale), 'out-of-scope account')} (guest or disabled) still {verb} a privileged role."
    why = (
        "Whether each account was approved before its credentials were issued, and removed when no longer "
        "approved, needs the customer's joiner and leaver records. The inventory (users.csv) is attached to "
        "reconcile against them."
    )
    return ControlRow(control, INVENTORY_MEASURED, figure,
                      "Not decided automatically: reconcile the inventory with approval records.",
                      NOT_EVIDENCED, why,
                      _named(REVIEW, f"For review: guest or disabled accounts holding a privileged role ({len(stale)})", stale))


# --- Requirement roll-up -------------------------------------------------------

def _objectives(names):
    """["[c]"] -> "Objective [c] is"; ["[c]", "[d]"] -> "Objectives [c] and [d] are"."""
    if len(names) == 1:
        return f"Objective {names[0]} is"
    return f"Objectives {', '.join(names[:-1])} and {names[-1]} are"


def rollup_row(control, objective_rows):
    """A CMMC requirement is met only when every one of its assessment objectives is met."""
    def objective(row):
        return row.control.ref_id[len(control.ref_id):]

    figure = "; ".join(f"{objective(r)} {r.result_label.lower()}" for r in objective_rows) + "."
    not_met = [objective(r) for r in objective_rows if r.result == NOT_MET]
    unshown = [objective(r) for r in objective_rows if r.result == NOT_EVIDENCED]
    if not_met:
        result, why = NOT_MET, f"{_objectives(not_met)} not met (see below)."
    elif unshown:
        result = NOT_EVIDENCED
        why = (f"{_objectives(unshown)} not evidenced by this pack, so the requirement cannot be shown "
               "met from Microsoft 365 data alone.")
    else:
        result, why = MET, "Every objective is met."
    return ControlRow(control, "The results of the assessment objectives listed below.", figure,
                      "Met only when every assessment objective is met (CMMC scoring).", result, why)


CHECKS = {
    "mfa_privileged": check_mfa_privileged,
    "mfa_non_privileged": check_mfa_non_privileged,
    "mfa_all": check_mfa_all,
    "mfa_all_external": check_mfa_all_external,
    "privileged_identified": check_privileged_identified,
    "privileged_review": check_privileged_review,
    "local_access": check_local_access,
    "user_inventory": check_user_inventory,
    "unique_identification": check_unique_identification,
    "authentication_inventory": check_authentication_inventory,
    "registration_review": check_registration_review,
}


def evaluate(framework, *, users, metrics, provenance, threshold):
    """All control rows of `framework` for one snapshot's data. Raises SnapshotUnreadable on malformed users."""
    population = Population(users)
    provenance = provenance if isinstance(provenance, dict) else {}
    rows = {}
    for control in framework.controls:
        if control.check != "requirement_rollup":
            rows[control.ref_id] = CHECKS[control.check](control, population, threshold, provenance)
    for control in framework.controls:
        if control.check == "requirement_rollup":
            objectives = [row for ref, row in rows.items() if ref.startswith(control.ref_id + "[")]
            rows[control.ref_id] = rollup_row(control, objectives)
    ordered = tuple(rows[control.ref_id] for control in framework.controls)
    counts = {result: sum(1 for r in ordered if r.result == result) for result in RESULT_LABELS}
    return Evaluation(
        framework=framework, threshold=threshold, population=population, rows=ordered,
        metric_mismatches=tuple(population.metric_mismatches(metrics)),
        compared_metrics=tuple(population.compared_metric_keys(metrics)),
        result_counts=counts,
    )


def evaluate_snapshot(snapshot, framework, threshold=None):
    """evaluate() for a PostureSnapshot (or anything with .users, .metrics, .provenance)."""
    return evaluate(framework, users=snapshot.users, metrics=snapshot.metrics, provenance=snapshot.provenance,
                    threshold=framework.threshold if threshold is None else threshold)
