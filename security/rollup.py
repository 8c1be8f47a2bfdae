"""Reads for /security: every observed customer's latest figures, sorted
server-side, with per-signal averages and the change since the previous snapshot.

Query count is flat in the number of customers: one query (a window function
picks each customer's latest two snapshots, without the users JSON) plus one
for the sparklines of the customers on the current page.
"""

from datetime import timedelta

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from .models import PostureSnapshot
from .signals import signal_average, signal_get, signal_list

DEFAULT_SORT = "privileged_mfa"  # worst first by default: the flagged signal


def _latest_two():
    """{customer_id: [latest, previous?]} from one query, without the users JSON."""
    rows = (
        PostureSnapshot.objects.annotate(
            rank=Window(RowNumber(), partition_by=[F("customer_id")], order_by=[F("taken_on").desc()])
        )
        .filter(rank__lte=2)
        .values("customer_id", "customer__name", "taken_on", "as_of", "metrics", "provenance__mfa_source", "rank")
    )
    by_customer = {}
    for row in rows:
        by_customer.setdefault(row["customer_id"], [None, None])[row["rank"] - 1] = row
    return by_customer


def _rollup_row(latest, previous, signals):
    cells = []
    for signal in signals:
        value = signal.value(latest["metrics"])
        delta = signal.change(value, signal.value(previous["metrics"])) if previous else None
        cells.append({
            "unknown": signal.unknown_count(latest["metrics"]),
            "signal": signal,
            "value": value,
            "display": signal.display(value),
            "delta": delta,
            "delta_class": "" if not delta else ("good" if signal.change_is_better(delta) else "bad"),
            "delta_display": signal.display_change(delta),
            "flagged": signal.flagged(value),
        })
    return {
        "customer_id": latest["customer_id"],
        "name": latest["customer__name"],
        "taken_on": latest["taken_on"],
        "as_of": latest["as_of"],
        "previous_on": previous["taken_on"] if previous else None,
        "mfa_source": latest["provenance__mfa_source"] or "",
        "users_total": latest["metrics"].get("users_total", 0),
        "in_scope": latest["metrics"].get("in_scope", 0),
        "unknown": {s.key: s.unknown_count(latest["metrics"]) for s in signals},
        "cells": cells,
        "values": {c["signal"].key: c["value"] for c in cells},
        "flags": [c["signal"].flag_reason() for c in cells if c["flagged"] and c["signal"].flag_reason],
    }


def _sort_key(row, primary, order, signals):
    value = row["values"][primary.key]
    missing, key = primary.worst_first_key(value)
    if order == "best" and not missing:
        key = -key
    others = [s.worst_first_key(row["values"][s.key]) for s in signals if s.key != primary.key]
    return ((missing, key), *others, row["name"].lower())


def rollup(*, sort=DEFAULT_SORT, order="worst"):
    """All observed customers, sorted, with per-signal averages. The sort is
    server-side over every customer, so page 2 continues page 1."""
    signals = signal_list()
    rows = [_rollup_row(pair[0], pair[1], signals) for pair in _latest_two().values() if pair[0]]
    order = "best" if order == "best" else "worst"
    if sort == "name":
        rows.sort(key=lambda r: r["name"].lower(), reverse=order == "best")
    else:
        primary = signal_get(sort) or signal_get(DEFAULT_SORT) or signals[0]
        sort = primary.key
        rows.sort(key=lambda r: _sort_key(r, primary, order, signals))
    averages = [
        {"signal": s, "value": signal_average(s, [r["values"][s.key] for r in rows]),
         "count": sum(1 for r in rows if r["values"][s.key] is not None)}
        for s in signals
    ]
    for item in averages:
        item["display"] = item["signal"].display(item["value"])
    return {
        "rows": rows,
        "signals": signals,
        "averages": averages,
        "sort": sort,
        "order": order,
        "flagged_count": sum(1 for r in rows if r["flags"]),
    }


def sparklines(customer_ids, *, end_by_customer, days=30, width=120, height=28):
    """MFA coverage over the last `days` for each customer on the page (one query)."""
    if not customer_ids:
        return {}
    earliest = min(end_by_customer.values()) - timedelta(days=days - 1)
    rows = (
        PostureSnapshot.objects.filter(customer_id__in=customer_ids, taken_on__gte=earliest)
        .order_by("taken_on").values_list("customer_id", "taken_on", "metrics__coverage_pct")
    )
    points = {}
    for customer_id, day, value in rows:
        end = end_by_customer[customer_id]
        start = end - timedelta(days=days - 1)
        if value is None or not (start <= day <= end):
            continue
        x = round(width * (day - start).days / max(days - 1, 1), 1)
        y = round(2 + (height - 4) * (100 - float(value)) / 100, 1)
        points.setdefault(customer_id, []).append(f"{x},{y}")
    return {cid: " ".join(p) for cid, p in points.items()}
