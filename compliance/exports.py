"""The machine-readable files of a pack: controls.csv, users.csv,
privileged_users.csv and collection.json, each as bytes.

CSVs are UTF-8 with a byte-order mark (so Excel reads accented names
correctly) and CRLF line ends; every cell goes through accounts.csvsafe so a
display name like "=HYPERLINK(...)" stays text. JSON is written with sorted
keys and a fixed indent, so the same inputs always give the same bytes.
"""

import csv
import io
import json

from accounts.csvsafe import cell

from .evaluate import EXCLUDED, FAILING, REGISTERED_NOT_ENFORCED, REVIEW, UNKNOWN

PACK_FORMAT = "vectis-evidence-pack/1"

MFA_SOURCE_LABELS = {
    "report": "Entra ID registration report (GET /reports/authenticationMethods/userRegistrationDetails)",
    "methods": "Per-user fallback (GET /users/{id}/authentication/methods), used when the report was unavailable",
}
SCOPE_RULE = "In scope: enabled member accounts. Guests and disabled accounts are out of scope and listed with the reason."
UNKNOWN_RULE = (
    "Accounts whose MFA state the data could not decide are 'unknown'. They count as not registered when "
    "testing for 'met' and as registered when testing for 'not met'; a result that depends on them is "
    "'not evidenced'."
)


def _csv_bytes(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _yes_no(value):
    return {True: "yes", False: "no"}.get(value, "")


def _labels(accounts):
    return "; ".join(a.label for a in accounts)


CONTROLS_HEADER = [
    "framework", "control_id", "title", "summary", "measured", "figure", "rule", "result", "why",
    "not_registered_accounts", "unknown_accounts", "accounts_for_review", "out_of_scope_accounts_not_counted",
    "reference_urn",
]


def controls_csv(evaluation):
    rows = []
    for row in evaluation.rows:
        control = row.control
        rows.append([
            evaluation.framework.label, control.ref_id, control.title, control.summary, row.measured, row.figure,
            row.rule, row.result_label, row.why, _labels(row.accounts_of(FAILING)), _labels(row.accounts_of(UNKNOWN)),
            _labels(row.accounts_of(REVIEW)), _labels(row.accounts_of(EXCLUDED)), control.reference_urn,
        ])
    return _csv_bytes(CONTROLS_HEADER, rows)


USERS_HEADER = [
    "user_principal_name", "display_name", "object_id", "user_type", "account_enabled", "in_scope",
    "scope_reason", "mfa_registered", "mfa_method_types", "strongest_method", "mfa_data_source",
    "privileged", "privileged_roles",
]


def users_csv(population):
    return _csv_bytes(USERS_HEADER, [
        [a.upn, a.display_name, a.graph_id, a.user_type, _yes_no(a.account_enabled), _yes_no(a.in_scope),
         a.scope_label, a.mfa_label, "; ".join(a.method_types), a.strongest, a.mfa_source,
         _yes_no(a.is_privileged), "; ".join(a.role_names)]
        for a in population.accounts
    ])


PRIVILEGED_HEADER = [
    "user_principal_name", "display_name", "object_id", "privileged_roles", "role_template_ids", "in_scope",
    "scope_reason", "account_enabled", "user_type", "mfa_registered", "mfa_method_types", "strongest_method",
]


def privileged_users_csv(population):
    return _csv_bytes(PRIVILEGED_HEADER, [
        [a.upn, a.display_name, a.graph_id, "; ".join(a.role_names), "; ".join(t for _, t in a.roles),
         _yes_no(a.in_scope), a.scope_label, _yes_no(a.account_enabled), a.user_type, a.mfa_label,
         "; ".join(a.method_types), a.strongest]
        for a in population.privileged
    ])


def _get(mapping, key):
    return mapping.get(key) if isinstance(mapping, dict) else None


def collection_record(source):
    """The provenance an auditor checks for completeness and accuracy, as a plain dict."""
    evaluation, provenance, population = source.evaluation, source.provenance, source.evaluation.population
    per_user_sources = {}
    for account in population.accounts:
        key = account.mfa_source or "none"
        per_user_sources[key] = per_user_sources.get(key, 0) + 1
    used = _get(provenance, "mfa_source")
    return {
        "format": PACK_FORMAT,
        "application_version": {"at_collection": _get(provenance, "app_version"), "pack_builder": source.app_version},
        "customer": {"id": source.customer_id, "name": source.customer_name},
        "framework": {"key": evaluation.framework.key, "label": evaluation.framework.label,
                      "reference": evaluation.framework.reference},
        "met_rule": {"threshold_percent": evaluation.threshold, "setting": evaluation.framework.threshold_setting,
                     "unknown_accounts": UNKNOWN_RULE, "registration_not_enforcement": REGISTERED_NOT_ENFORCED,
                     "percentages": "rounded down to one decimal"},
        "snapshot": {"id": source.snapshot_id, "taken_on": source.taken_on.isoformat(),
                     "as_of": source.as_of_utc.isoformat()},
        "tenant": {"id": _get(provenance, "tenant_id"), "name": _get(provenance, "tenant_name")},
        "graph": {"base_url": _get(provenance, "graph_base_url"), "api_version": _get(provenance, "api_version"),
                  "endpoints": _get(provenance, "endpoints")},
        "permissions_granted_at_collection": _get(provenance, "permissions_granted"),
        "mfa_data_source": {"used": used, "description": MFA_SOURCE_LABELS.get(used),
                            "report_unavailable_reason": _get(provenance, "report_unavailable_reason"),
                            "accounts_per_source": dict(sorted(per_user_sources.items()))},
        "collection": {"started": _get(provenance, "collection_started"),
                       "finished": _get(provenance, "collection_finished")},
        "privileged_role_rule": _get(provenance, "privileged_role_rule"),
        "scope_rule": SCOPE_RULE,
        "counts": {
            "total": len(population.accounts),
            "in_scope": len(population.in_scope),
            "excluded": len(population.excluded),
            "excluded_by_reason": population.excluded_by_reason(),
            "privileged_total": len(population.privileged),
            "privileged_in_scope": len(population.privileged_in_scope),
        },
        "consistency_with_stored_metrics": {
            "compared": list(evaluation.compared_metrics),
            "mismatches": [{"metric": k, "stored": s, "recounted": r} for k, s, r in evaluation.metric_mismatches],
        },
        "provenance_as_recorded": provenance if isinstance(provenance, dict) else {},
    }


def collection_json(source):
    text = json.dumps(collection_record(source), indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return (text + "\n").encode("utf-8")
