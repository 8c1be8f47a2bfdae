"""How the audit log reads to an auditor: a row's target as a named link, its
details as one short line.

The audit app sits below every app that writes rows, so it cannot know what a
"customers.message" is. Each app registers, in its AppConfig.ready(), a
describer for the target types it writes (one call per page: ids in, labels
out) and a summariser for actions whose details are counts an auditor should
not have to read as JSON.
"""

import json
from dataclasses import dataclass

from django.urls import reverse

from accounts.models import User


@dataclass(frozen=True)
class TargetLabel:
    text: str
    url: str = ""


_DESCRIBERS = {}  # target_type -> function(ids) -> {id: TargetLabel}
_SUMMARISERS = {}  # action -> function(details) -> str


def target_describer_register(target_type, describe):
    """describe(ids: set[str]) -> {id: TargetLabel}; ids that no longer exist may be left out."""
    _DESCRIBERS[target_type] = describe


def details_summariser_register(action, summarise):
    """summarise(details: dict) -> one short line (str), shown instead of the key/value list."""
    _SUMMARISERS[action] = summarise


CUSTOMER = "customers.customer"  # the target type of the Customer column's rows


def events_label(events):
    """Set target_label (TargetLabel or None), customer_link (TargetLabel or
    None) and detail_items / detail_line on each event of a page: one
    describer call per target type, the Customer column's ids included."""
    ids_by_type = {}
    for event in events:
        if event.target_type in _DESCRIBERS and event.target_id:
            ids_by_type.setdefault(event.target_type, set()).add(event.target_id)
        if event.customer_id and CUSTOMER in _DESCRIBERS:
            ids_by_type.setdefault(CUSTOMER, set()).add(str(event.customer_id))
    labels = {kind: _DESCRIBERS[kind](ids) for kind, ids in ids_by_type.items()}
    for event in events:
        event.customer_link = labels.get(CUSTOMER, {}).get(str(event.customer_id)) if event.customer_id else None
    for event in events:
        event.target_label = labels.get(event.target_type, {}).get(event.target_id)
        summarise = _SUMMARISERS.get(event.action)
        event.detail_line = summarise(event.details) if summarise else ""
        event.detail_items = [] if event.detail_line else [(key, _detail(key, value)) for key, value in event.details.items()]


def _detail(key, value):
    """"changes" holds {field: [before, after]}: read as "field before → after"."""
    if key == "changes" and isinstance(value, dict) and all(isinstance(v, list) and len(v) == 2 for v in value.values()):
        return "; ".join(f"{field} {_flat(before)} → {_flat(after)}" for field, (before, after) in value.items())
    return _flat(value)


def _flat(value):
    """A detail value as a short text: lists joined, small mappings as "key value" pairs, never raw JSON braces."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, (list, tuple)):
        return ", ".join(_flat(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k} {_flat(v)}" for k, v in value.items()) or "—"
    return json.dumps(value, ensure_ascii=False)


def users_describe(ids):
    """Accounts are below the audit app, so their rows are described here."""
    rows = User.objects.filter(pk__in={int(i) for i in ids if str(i).isdigit()}).values_list("pk", "username")
    return {str(pk): TargetLabel(f"user {name}", reverse("user_edit", args=[pk])) for pk, name in rows}
