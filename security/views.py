"""/security: the cross-customer rollup, its CSV, and one customer's full posture."""

import datetime
from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit.log import audit_log
from customers.models import Customer
from vectis.access import require_role
from vectis.csvsafe import csv_line_writer

from . import rollup, selectors
from .posture import REGISTRATION_CAVEAT, SCOPE_RULE
from .signals import privileged_mfa_threshold

ROLLUP_PAGE_SIZE = 50
USERS_PAGE_SIZE = 50


def _latest_posture_run():
    # security never imports integrations at module level (dependencies point
    # the other way); the view layer may ask the connector for its last run.
    from integrations.m365.posture_sync import latest_posture_run

    return latest_posture_run()


@require_role()
@require_GET
def security_rollup(request):
    data = rollup.rollup(sort=request.GET.get("sort", rollup.DEFAULT_SORT), order=request.GET.get("order", "worst"))
    page = Paginator(data["rows"], ROLLUP_PAGE_SIZE).get_page(request.GET.get("page"))
    rollup.rollup_details(page.object_list, data["signals"])
    lines = rollup.sparklines(
        [r["customer_id"] for r in page], end_by_customer={r["customer_id"]: r["taken_on"] for r in page}
    )
    for row in page:
        row["sparkline"] = lines.get(row["customer_id"], "")
    sort_links = {}
    for key in ["name", *(s.key for s in data["signals"])]:
        flip = "best" if data["sort"] == key and data["order"] == "worst" else "worst"
        sort_links[key] = "?" + urlencode({"sort": key, "order": flip})
    return render(request, "security/rollup.html", {
        **data,
        "page": page,
        "qs": urlencode({"sort": data["sort"], "order": data["order"]}),
        "sort_links": sort_links,
        "header_cells": [{"signal": s, "link": sort_links[s.key], "active": data["sort"] == s.key} for s in data["signals"]],
        "threshold": privileged_mfa_threshold(),
        "run": _latest_posture_run(),
        "source_labels": selectors.SOURCE_LABELS,
        "scope_rule": SCOPE_RULE,
        "caveat": REGISTRATION_CAVEAT,
    })


@require_role()
@require_GET
def security_rollup_csv(request):
    data = rollup.rollup(sort=request.GET.get("sort", rollup.DEFAULT_SORT), order=request.GET.get("order", "worst"))
    signals = data["signals"]
    rollup.rollup_details(data["rows"], signals, all_rows=True)
    audit_log(actor=request.user, action="security.export_csv", request=request,
              details={"rows": len(data["rows"]), "sort": data["sort"], "order": data["order"]})
    write = csv_line_writer()

    def lines():
        yield write(
            ["customer", "customer_id", "taken_on", "as_of_utc", "mfa_source", "users_total", "in_scope"]
            + [s.key for s in signals]
            + [f"{s.key}_change" for s in signals]
            + [f"{s.key}_unknown" for s in signals if s.unknown]
            + ["previous_taken_on", "flags"]
        )
        for row in data["rows"]:
            yield write(
                [row["name"], row["customer_id"], row["taken_on"].isoformat(),
                 row["as_of"].astimezone(datetime.timezone.utc).isoformat(), row["mfa_source"], row["users_total"], row["in_scope"]]
                + [c["value"] for c in row["cells"]]
                + [c["delta"] for c in row["cells"]]
                + [row["unknown"][s.key] for s in signals if s.unknown]
                + [row["previous_on"].isoformat() if row["previous_on"] else "", "; ".join(row["flags"])]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="vectis-security-rollup-{stamp}.csv"'
    return response


@require_role()
@require_GET
def customer_posture(request, customer_id):
    customer = get_object_or_404(Customer, pk=customer_id)
    posture = selectors.customer_posture(customer.pk, list_limit=selectors.HUB_LIST_LIMIT)
    if posture is None:
        return render(request, "security/customer.html", {"customer": customer, "posture": None})
    filter_key = request.GET.get("show", "all")
    if filter_key not in selectors.USER_FILTERS:
        filter_key = "all"
    users = selectors.snapshot_users(posture["snapshot"], filter_key)
    page = Paginator(users, USERS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "security/customer.html", {
        "customer": customer,
        "posture": posture,
        "page": page,
        "filter_key": filter_key,
        "filters": [(key, label) for key, (label, _) in selectors.USER_FILTERS.items()],
        "qs": urlencode({"show": filter_key}),
    })
