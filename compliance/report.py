"""What the human-readable report says, as plain data, so the PDF and its
HTML copy print the same facts in the same order."""

from datetime import datetime, timezone

from security.posture import posture_source

from .enforcement_files import ENFORCEMENT_FILES, EXCEPTIONS_FILE, exceptions_csv
from .evaluate import (
    NOT_EVIDENCED_WITHOUT_ENFORCEMENT,
    REGISTERED_NOT_ENFORCED,
    RESULT_LABELS,
    enforcement_was_read,
    pct,
)
from .exports import MFA_SOURCE_LABELS, SCOPE_RULE, UNKNOWN_RULE

NOT_RECORDED = "not recorded"

PACK_FILES = (
    ("report.pdf", "This report."),
    ("report.html", "The same report as HTML."),
    ("controls.csv", "One line per control row: figure, rule, result, reason and the named accounts."),
    ("users.csv", "Every account of the customer: in-scope flag and reason, MFA registered, method types, strength, roles."),
    ("privileged_users.csv", "Every privileged role holder with the roles held."),
    ("collection.json", "Provenance: tenant, Graph endpoints and API version, permissions, data source, times, counts."),
    ("manifest.json", "SHA-256 of every other file and of the sorted file list."),
)

PROTECTED_NOTE = (
    "MFA rows are evaluated on protected accounts: MFA registered AND required at sign-in by an enabled "
    "Conditional Access policy covering all apps without conditions, by Security Defaults or by per-user MFA. "
    "enforcement.csv gives every account's state and reason; methodology.txt how it was read."
)


def pack_files(source):
    """[(name, what it holds)] of the files this pack contains (the enforcement files only where read)."""
    files = list(PACK_FILES)
    if enforcement_was_read(source.provenance):
        files[-1:-1] = ENFORCEMENT_FILES
    if exceptions_csv(source.provenance) is not None:
        files[-1:-1] = [EXCEPTIONS_FILE]
    return tuple(files)


def enforcement_text(provenance):
    enforcement = provenance.get("enforcement") if isinstance(provenance, dict) else None
    enforcement = enforcement if isinstance(enforcement, dict) else {}
    if not enforcement_was_read(provenance):
        why = enforcement.get("why_registration_only") or "this snapshot was collected without reading it."
        return f"Not read (registration only): {why} {NOT_EVIDENCED_WITHOUT_ENFORCEMENT}"
    sd = enforcement.get("security_defaults") if isinstance(enforcement.get("security_defaults"), dict) else {}
    per_user = enforcement.get("per_user_mfa") if isinstance(enforcement.get("per_user_mfa"), dict) else {}
    policies = enforcement.get("mfa_policies")
    return (f"Read: {enforcement.get('policies_total')} Conditional Access policies "
            f"({len(policies) if isinstance(policies, list) else NOT_RECORDED} about MFA); Security Defaults "
            f"{'on' if sd.get('isEnabled') else 'off'}; per-user MFA (beta API): "
            f"{per_user.get('note') or NOT_RECORDED}")


def exceptions_text(provenance):
    recorded = provenance.get("exceptions") if isinstance(provenance, dict) else None
    recorded = recorded if isinstance(recorded, dict) else {}
    in_force = recorded.get("in_force") if isinstance(recorded.get("in_force"), list) else []
    expired = recorded.get("expired") if isinstance(recorded.get("expired"), list) else []
    if not in_force and not expired:
        return "None recorded at collection."
    return (f"{len(in_force)} in force, {len(expired)} expired (exceptions.csv: reason, owner, approver, expiry, "
            "compensating control). Excepted accounts stay in every figure; rows do not count exceptions.")


VERIFY_NOTE = (
    "manifest.json holds the SHA-256 of every file in this pack. The command \"python manage.py verify_pack "
    "PACK.zip\" re-computes them and names any file that does not match; sha256sum gives the same hashes."
)


def utc_text(value):
    """An ISO time (string or datetime) as 'YYYY-MM-DD HH:MM:SS UTC'; other text as it is."""
    if value in (None, ""):
        return NOT_RECORDED
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            return moment.strftime("%Y-%m-%d %H:%M:%S") + " (no time zone recorded)"
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _value(provenance, key):
    value = provenance.get(key) if isinstance(provenance, dict) else None
    return NOT_RECORDED if value in (None, "", []) else value


def _as_list(value):
    if value == NOT_RECORDED:
        return [NOT_RECORDED]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def tenant_text(provenance):
    name, tenant_id = _value(provenance, "tenant_name"), _value(provenance, "tenant_id")
    text = f"{name} (tenant id {tenant_id})"
    if isinstance(provenance, dict) and provenance.get("tenant_owner") == "msp":
        text += (" — the MSP's own tenant, not the customer's: this customer's accounts are the users there "
                 "whose sign-in names (UPNs) are at the customer's domains")
    return text


def overall_mfa_text(population):
    """Every in-scope account together, counted as the Vectis security pages count it
    (unknown accounts apart), so the pack and the page state the same figure."""
    accounts = population.in_scope
    registered = sum(1 for a in accounts if a.mfa_registered is True)
    unknown = sum(1 for a in accounts if a.mfa_registered is None)
    decided = len(accounts) - unknown
    if not decided:
        return f"no figure: none of the {len(accounts)} in-scope accounts has a known MFA state"
    text = f"{pct(registered, decided)}% ({registered} of {decided} in-scope accounts with a known state registered)"
    return text + (f"; {unknown} unknown, not counted" if unknown else "")


def source_text(provenance):
    return posture_source(provenance)["label"]


def mfa_source_text(provenance):
    used = _value(provenance, "mfa_source")
    text = MFA_SOURCE_LABELS.get(used, str(used))
    reason = provenance.get("report_unavailable_reason") if isinstance(provenance, dict) else None
    return f"{text}. Report unavailable because: {reason}" if reason else text


def report_facts(source):
    """[(label, text)] for the report's opening table."""
    evaluation, provenance = source.evaluation, source.provenance
    population = evaluation.population
    excluded = ", ".join(f"{count} {reason}" for reason, count in population.excluded_by_reason().items()) or "none"
    return [
        ("Customer", source.customer_name),
        ("Microsoft 365 tenant", tenant_text(provenance)),
        ("Posture source", source_text(provenance)),
        ("Snapshot", f"{source.taken_on.isoformat()}, data collected "
                     f"{utc_text(_value(provenance, 'collection_started'))} to {utc_text(_value(provenance, 'collection_finished'))}"),
        ("Framework", evaluation.framework.label),
        ("Accounts", f"{len(population.accounts)} in total; {len(population.in_scope)} in scope; "
                     f"{len(population.excluded)} out of scope ({excluded})"),
        ("Privileged role holders", f"{len(population.privileged)} ({len(population.privileged_in_scope)} in scope)"),
        ("MFA coverage, all in-scope accounts", overall_mfa_text(population)),
        ("MFA data source", mfa_source_text(provenance)),
        ("MFA enforcement", enforcement_text(provenance)),
        ("Documented MFA exceptions", exceptions_text(provenance)),
        ("Met threshold", f"{evaluation.threshold}% of the measured in-scope accounts "
                          f"{'protected (registered and enforced)' if enforcement_was_read(provenance) else 'registered'} "
                          f"(setting {evaluation.framework.threshold_setting})"),
        ("Results", ", ".join(f"{count} {label.lower()}" for label, count in result_summary(evaluation))),
        ("Application version", f"{_value(provenance, 'app_version')} at collection; pack built by {source.app_version}"),
    ]


def result_summary(evaluation):
    return [(label, evaluation.result_counts.get(key, 0)) for key, label in RESULT_LABELS.items()]


def reading_notes(source):
    return [
        "Scope: this pack measures the customer's accounts in Microsoft 365 (Entra ID) only. " + SCOPE_RULE,
        PROTECTED_NOTE if enforcement_was_read(source.provenance) else REGISTERED_NOT_ENFORCED,
        UNKNOWN_RULE,
        "Percentages are rounded down to one decimal, as on the Vectis security pages, so 100.0% always means "
        "every account.",
        "Every account that fails a row, is unknown, or is for review is named (display name and UPN).",
        "This pack is built only from the stored snapshot and the settings named here: the same inputs give "
        "a byte-identical pack. Who downloaded it and when is recorded in the Vectis audit log, not here.",
    ]


def provenance_items(source):
    """[(label, [lines])] for the report's Data provenance section."""
    provenance, evaluation = source.provenance, source.evaluation
    rule = provenance.get("privileged_role_rule") if isinstance(provenance, dict) else None
    rule_lines = [NOT_RECORDED]
    if isinstance(rule, list) and rule:
        rule_lines = [f"{r.get('name', '')} ({r.get('template_id', '')})" if isinstance(r, dict) else str(r) for r in rule]
    mismatches = evaluation.metric_mismatches
    if mismatches:
        consistency = [f"{key}: stored {stored}, recounted from the user list {recount}" for key, stored, recount in mismatches]
        consistency.insert(0, "MISMATCH: the figures in this pack are recounted from the user list; these stored figures disagree:")
    elif evaluation.compared_metrics:
        consistency = [f"All {len(evaluation.compared_metrics)} stored figures match a recount from the user list."]
    else:
        consistency = ["The snapshot stores no figures to compare."]
    return [
        ("Tenant", [tenant_text(provenance)]),
        ("Posture source", [source_text(provenance)]),
        ("Graph base URL and API version", [f"{_value(provenance, 'graph_base_url')} (API version {_value(provenance, 'api_version')})"]),
        ("Graph endpoints used", _as_list(_value(provenance, "endpoints"))),
        ("Permissions granted at collection", _as_list(_value(provenance, "permissions_granted"))),
        ("MFA data source", [mfa_source_text(provenance)]),
        ("MFA enforcement", [enforcement_text(provenance)]),
        ("Collection started", [utc_text(_value(provenance, "collection_started"))]),
        ("Collection finished", [utc_text(_value(provenance, "collection_finished"))]),
        ("Snapshot", [f"id {source.snapshot_id}, taken on {source.taken_on.isoformat()}, as of {utc_text(source.as_of_utc)}"]),
        ("Privileged-role rule (role name and template id)", rule_lines),
        ("Consistency with the snapshot's stored figures", consistency),
        ("Application version", [f"{_value(provenance, 'app_version')} at collection; pack built by {source.app_version}"]),
    ]
