"""Reads for /security: every observed customer's latest figures, sorted
server-side, with per-signal averages and the change since the previous snapshot.

Query count is flat in the number of customers: one query for every
customer's latest snapshot (without the users JSON), which is all the sort,
the averages and the flags need; then one for the previous snapshots of the
rows actually shown (rollup_details) and one for their sparklines.

The page (rollup_ordered) is flat in time too: the sort order and the
averages are cached under a key that changes with the data, so a request
reads only its 50 rows.
"""

import hashlib
import time
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Count, Max, OuterRef, Subquery
from django.utils import timezone

from customers.models import Customer, CustomerDomain
from customers.windows import posture_is_stale

from .metrics import privileged_mfa_threshold, signal_average, signal_cell, signal_get, signal_list
from .models import PostureSnapshot
from .posture import MODE_ENFORCEMENT
from .runs import latest_posture_run

DEFAULT_SORT = "privileged_mfa"  # worst first by default: the flagged signal
# Posture is collected daily: data older than two scheduled runs is stale.
SOURCE_LABELS = {"customer_tenant": "own tenant", "msp_tenant": "domain match"}


def _nth_snapshots(nth, fields, customer_ids=None):
    """Each customer's nth newest snapshot (0: latest, 1: the one before), as
    value dicts without the users JSON, in one query.

    The rows are picked through the (customer, taken_on) unique index, one
    probe per customer, so the cost follows the number of customers, not the
    days of history kept: a window function over every snapshot read all
    180,000 rows of 2,000 customers x 90 days (docs/performance.md)."""
    newest = PostureSnapshot.objects.filter(customer=OuterRef("pk")).order_by("-taken_on").values("pk")
    customers = Customer.objects.order_by()
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    picks = customers.annotate(pick=Subquery(newest[nth:nth + 1])).values("pick")
    return PostureSnapshot.objects.filter(pk__in=picks).order_by().values(*fields)


# What _summary_row reads of each latest snapshot (never the users JSON).
SUMMARY_FIELDS = ("customer_id", "customer__name", "taken_on", "as_of", "metrics", "provenance__mfa_source",
                  "provenance__source__kind", "customer__tenant_link__last_error")


def _summary_row(latest, signals):
    """What sorting, averaging and flagging need, for every customer."""
    metrics = latest["metrics"]
    values = {s.key: s.value(metrics) for s in signals}
    return {
        "customer_id": latest["customer_id"],
        "name": latest["customer__name"],
        "taken_on": latest["taken_on"],
        "as_of": latest["as_of"],
        "mfa_source": latest["provenance__mfa_source"] or "",
        "source": SOURCE_LABELS.get(latest["provenance__source__kind"] or "msp_tenant", ""),
        "stale": posture_is_stale(latest["as_of"], timezone.now()),
        "tenant_error": latest["customer__tenant_link__last_error"] or "",
        "users_total": metrics.get("users_total", 0),
        "in_scope": metrics.get("in_scope", 0),
        "metrics": metrics,
        "values": values,
        "flags": [s.flag_reason() for s in signals if s.flag_reason and s.flagged(values[s.key])],
        "no_data": "",
    }


def rollup_details(rows, signals, *, all_rows=False):
    """Fill in what is only shown: each row's cells (display, unknown count,
    change since the previous snapshot) and previous_on. One query for the
    previous snapshots of `rows` (all_rows: of every customer, for the CSV)."""
    ids = None if all_rows else [row["customer_id"] for row in rows]
    previous = {} if ids == [] else {
        p["customer_id"]: p for p in _nth_snapshots(1, ("customer_id", "taken_on", "metrics"), customer_ids=ids)
    }
    for row in rows:
        before = previous.get(row["customer_id"])
        metrics = row["metrics"]
        cells = [signal_cell(signal, metrics, before["metrics"] if before else None) for signal in signals]
        row["cells"] = cells
        row["unknown"] = {c["signal"].key: c["unknown"] for c in cells}
        row["previous_on"] = before["taken_on"] if before else None
    return rows


def _sort_key(row, primary, order, signals):
    value = row["values"][primary.key]
    missing, key = primary.worst_first_key(value)
    if order == "best" and not missing:
        key = -key
    others = [s.worst_first_key(row["values"][s.key]) for s in signals if s.key != primary.key]
    return ((missing, key), *others, row["name"].lower())


def _unobserved_rows(signals, last_run, customer_ids=None):
    """Every customer without a snapshot (of customer_ids, when given), with the
    reason it has none: the rollup hides no customer. Two queries, whatever
    the number of customers."""
    unobserved = Customer.objects.filter(posture_snapshots__isnull=True)
    if customer_ids is not None:
        unobserved = unobserved.filter(pk__in=customer_ids)
    customers = list(unobserved.order_by().values_list("pk", "name", "tenant_link__tenant_id", "tenant_link__last_error"))
    if not customers:
        return []
    domains = {}
    for customer_id, domain in (CustomerDomain.objects.filter(customer__in=[row[0] for row in customers])
                                .order_by("domain").values_list("customer_id", "domain")):
        domains.setdefault(customer_id, []).append(domain)
    return [{
        "customer_id": customer_id, "name": name, "taken_on": None, "as_of": None, "mfa_source": "",
        "source": SOURCE_LABELS["customer_tenant"] if tenant_id else "", "stale": False, "tenant_error": error or "",
        "users_total": 0, "in_scope": 0, "metrics": {}, "values": dict.fromkeys((s.key for s in signals)),
        "flags": [], "no_data": ("its own tenant has not been collected yet" if tenant_id
                                 else _no_data_reason(domains.get(customer_id), last_run)),
    } for customer_id, name, tenant_id, error in customers]


def _no_data_reason(domains, last_run):
    if not domains:
        return "no domains: add the customer's email domains to match its users"
    if last_run is None:
        return "no posture sync yet"
    if last_run.outcome == "failed":
        return "the last posture collection failed (see above)"
    return f"no users matched at {', '.join(domains)}"


BAR_SIGNALS = ("mfa_coverage", "privileged_mfa")  # the bars of the per-customer chart, top to bottom


def coverage_bars(rows):
    """The per-customer bar chart of the rows shown (after rollup_details):
    MFA coverage and privileged MFA as bar widths out of 100, with the figure
    and its counts as text beside them. Customers without a value get no bar
    and their reason instead."""
    bars = []
    for row in rows:
        cells = {c["signal"].key: c for c in row.get("cells", [])}
        measures = []
        for key in BAR_SIGNALS:
            cell = cells.get(key)
            if cell is None:
                continue
            value = cell["value"]
            measures.append({
                "key": key, "label": cell["signal"].label, "value": value, "flagged": cell["flagged"],
                "width": f"{max(0.0, min(100.0, value)):.1f}" if value is not None else "",
                "text": f"{cell['display']} {cell['fraction']}".strip() if value is not None else "—",
            })
        bars.append({"customer_id": row["customer_id"], "name": row["name"], "no_data": row["no_data"],
                     "measures": measures})
    return bars


def customer_no_posture_reason(customer_id):
    """Why this customer has no snapshot, as a sentence for its pages: the same
    cases as the rollup's reason (no domains, never synced, failed, matched nobody)."""
    domains = list(CustomerDomain.objects.filter(customer_id=customer_id).order_by("domain").values_list("domain", flat=True))
    run = latest_posture_run(finished=True)
    if not domains:
        return ("No security posture: this customer has no email domains. Posture is matched by each user's "
                "sign-in name (UPN), so add the customer's domains.")
    if run is None:
        return ("No security posture yet. It appears after the first Microsoft 365 posture sync, for users whose "
                "sign-in name (UPN) is at one of this customer's domains.")
    when = f"{timezone.localtime(run.finished_at or run.started_at):%-d %b %Y %H:%M}"
    if run.outcome == "failed":
        return f"No security posture: the last posture collection ({when}) failed; an admin sees why in Admin → Integrations."
    return (f"The posture sync of {when} succeeded but matched no users at {', '.join(domains)}: no account in the "
            "tenant has a sign-in name (UPN) at these domains. Check the customer's domains, or whether its users "
            "live in another Microsoft 365 tenant.")


def rollup(*, sort=DEFAULT_SORT, order="worst", last_run=None, customers_total=None):
    """Every customer, sorted, with per-signal averages over those with data
    (customers without a snapshot are listed too, last, with the reason).
    The sort is server-side over every customer, so page 2 continues page 1.
    Rows carry values and flags; call rollup_details() on the rows to be shown."""
    signals = signal_list()
    rows = [_summary_row(latest, signals) for latest in _nth_snapshots(0, SUMMARY_FIELDS)]
    observed = len(rows)
    if observed != customers_total:  # customers_total (when the caller knows it): every one has a snapshot
        rows += _unobserved_rows(signals, last_run)
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
        "observed_count": observed,
    }


# ------------------------------------------------------------------ the page, flat in the number of customers

ORDER_CACHE_SECONDS = 24 * 3600
_SNAPSHOTS_VERSION_KEY = "vectis:security:snapshots-version"


def snapshots_changed():
    """Every write that may change a customer's latest snapshot in place
    (posture_snapshots_write) calls this: the cached sort order is stale."""
    try:
        cache.incr(_SNAPSHOTS_VERSION_KEY)
    except ValueError:  # not set yet (or evicted): any new value will do
        cache.set(_SNAPSHOTS_VERSION_KEY, int(time.time() * 1000), timeout=None)


def _order_key(sort, order):
    """What the order depends on, read in one small query: the customers (count,
    newest id, last change: names sort and unobserved customers are listed),
    the newest snapshot id (a new snapshot), the snapshots version (a
    rewrite in place) and the threshold the flags use."""
    customers = Customer.objects.aggregate(n=Count("pk"), top=Max("pk"), changed=Max("updated_at"),
                                           snapshot=Max(Subquery(PostureSnapshot.objects.order_by("-pk").values("pk")[:1])))
    version = cache.get(_SNAPSHOTS_VERSION_KEY, 0)
    parts = [sort, order, customers["n"], customers["top"], customers["changed"], customers["snapshot"], version,
             privileged_mfa_threshold()]
    return "vectis:security:order:" + hashlib.sha256(repr(parts).encode()).hexdigest(), customers["n"]


def rollup_ordered(*, sort=DEFAULT_SORT, order="worst", last_run=None):
    """rollup() for one page: the sorted customer ids, averages and counts come
    from a cache (computed by rollup() over every customer when the data
    changed); rollup_page_rows() then reads only the rows shown. So a
    /security page costs the same with 20 customers or 2,000."""
    key, customers_total = _order_key(sort, order)
    summary = cache.get(key)
    computed = {}
    if summary is None:
        data = rollup(sort=sort, order=order, last_run=last_run, customers_total=customers_total)
        computed = {row["customer_id"]: row for row in data["rows"]}
        enforced = sum(1 for r in data["rows"] if not r["no_data"]
                       and r["metrics"].get("enforcement_mode") == MODE_ENFORCEMENT)
        summary = {
            "ids": [r["customer_id"] for r in data["rows"]], "sort": data["sort"], "order": data["order"],
            "averages": [(a["signal"].key, a["value"], a["count"]) for a in data["averages"]],
            "flagged_count": data["flagged_count"], "observed_count": data["observed_count"],
            "enforcement_count": enforced, "registration_only_count": data["observed_count"] - enforced,
        }
        cache.set(key, summary, timeout=ORDER_CACHE_SECONDS)
    signals = signal_list()
    by_key = {s.key: s for s in signals}
    averages = [{"signal": by_key[k], "value": value, "count": count, "display": by_key[k].display(value)}
                for k, value, count in summary["averages"] if k in by_key]
    # computed: the rows rollup() just built (a cache miss), so the page need not read them again.
    return {**summary, "signals": signals, "averages": averages, "computed": computed}


def rollup_page_rows(customer_ids, signals, last_run, *, computed=None):
    """The summary rows of these customers, in the given order: from `computed`
    when rollup_ordered just built them, else read (one to three queries)."""
    if computed:
        return [computed[customer_id] for customer_id in customer_ids if customer_id in computed]
    rows = {latest["customer_id"]: _summary_row(latest, signals)
            for latest in _nth_snapshots(0, SUMMARY_FIELDS, customer_ids=customer_ids)}
    missing = [customer_id for customer_id in customer_ids if customer_id not in rows]
    if missing:
        rows.update((row["customer_id"], row) for row in _unobserved_rows(signals, last_run, customer_ids=missing))
    return [rows[customer_id] for customer_id in customer_ids if customer_id in rows]


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
    # One point is not a trend: the page says it starts from the second snapshot.
    return {cid: " ".join(p) for cid, p in points.items() if len(p) > 1}
