"""/security: the cross-customer rollup, its CSV, and one customer's full posture."""

import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import require_role
from accounts.csvsafe import csv_line_writer
from accounts.models import Role
from customers.models import Customer
from customers.windows import exception_in_force_on, site_today

from . import rollup, selectors
from .exceptions import EXCEPTION_RULE
from .forms import MfaExceptionForm
from .metrics import privileged_mfa_threshold
from .models import MfaException
from .posture import PROTECTED_RULE, REGISTRATION_CAVEAT, SCOPE_RULE
from .runs import latest_posture_run
from .services import mfa_exception_create, mfa_exception_revoke, security_export_record

ROLLUP_PAGE_SIZE = 50
# Numerators and denominators beside the percentages, so every figure in the CSV can be checked.
FIGURE_COLUMNS = {
    "enforcement_mode": lambda m: m.get("enforcement_mode") or "registration_only",
    "mfa_registered": lambda m: m.get("mfa_registered"),
    "mfa_registered_denominator": lambda m: (m.get("mfa_registered") or 0) + (m.get("mfa_not_registered") or 0),
    "mfa_enforced_count": lambda m: m.get("enforced"),
    "mfa_protected_count": lambda m: m.get("protected"),
    "enforcement_denominator": lambda m: m.get("enforcement_denominator"),
    "privileged_enforced_count": lambda m: m.get("privileged_enforced"),
    "privileged_protected_count": lambda m: m.get("privileged_protected"),
    "privileged_enforcement_denominator": lambda m: m.get("privileged_enforcement_denominator"),
    "privileged_phishing_resistant": lambda m: m.get("privileged_phishing_resistant"),
    "exceptions_in_force": lambda m: m.get("exceptions_in_force"),
    "exceptions_expired": lambda m: m.get("exceptions_expired"),
    "mfa_coverage_with_exceptions": lambda m: m.get("mfa_pct_with_exceptions"),
    "mfa_protected_with_exceptions": lambda m: m.get("protected_pct_with_exceptions"),
}


def _figure_cells(metrics):
    return [read(metrics or {}) for read in FIGURE_COLUMNS.values()]
USERS_PAGE_SIZE = 50


@require_role()
@require_GET
def security_rollup(request):
    run = latest_posture_run()
    data = rollup.rollup_ordered(sort=request.GET.get("sort", rollup.DEFAULT_SORT),
                                 order=request.GET.get("order", "worst"), last_run=run)
    page = Paginator(data["ids"], ROLLUP_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = rollup.rollup_page_rows(list(page.object_list), data["signals"], run, computed=data["computed"])
    rollup.rollup_details(page.object_list, data["signals"])
    observed = [r for r in page if r["taken_on"]]
    lines = rollup.sparklines(
        [r["customer_id"] for r in observed], end_by_customer={r["customer_id"]: r["taken_on"] for r in observed}
    )
    for row in page:
        row["sparkline"] = lines.get(row["customer_id"], "")
    bars = rollup.coverage_bars(page.object_list)
    # Phones show the sorted-by figure again right after the customer (the rest scrolls sideways).
    for row in page:
        row["sort_cell"] = next((c for c in row["cells"] if c["signal"].key == data["sort"]), None)
    sort_average = next((a for a in data["averages"] if a["signal"].key == data["sort"]), None)
    sort_links = {}
    for key in ["name", *(s.key for s in data["signals"])]:
        flip = "best" if data["sort"] == key and data["order"] == "worst" else "worst"
        sort_links[key] = "?" + urlencode({"sort": key, "order": flip})
    return render(request, "security/rollup.html", {
        **data,
        "page": page,
        "customer_count": len(data["ids"]),
        "qs": urlencode({"sort": data["sort"], "order": data["order"]}),
        "sort_links": sort_links,
        "header_cells": [{"signal": s, "link": sort_links[s.key], "active": data["sort"] == s.key} for s in data["signals"]],
        "threshold": privileged_mfa_threshold(),
        "bars": bars,
        "sort_average": sort_average,
        "run": run,
        "source_labels": selectors.SOURCE_LABELS,
        "scope_rule": SCOPE_RULE,
        "caveat": REGISTRATION_CAVEAT,
        "protected_rule": PROTECTED_RULE,
    })


@require_role()
@require_GET
def security_rollup_csv(request):
    data = rollup.rollup(sort=request.GET.get("sort", rollup.DEFAULT_SORT), order=request.GET.get("order", "worst"),
                         last_run=latest_posture_run())
    signals = data["signals"]
    rollup.rollup_details(data["rows"], signals, all_rows=True)
    security_export_record(actor=request.user, rows=len(data["rows"]), sort=data["sort"], order=data["order"],
                           request=request)
    write = csv_line_writer()

    def lines():
        yield write(
            ["customer", "customer_id", "taken_on", "as_of_utc", "mfa_source", "users_total", "in_scope"]
            + [s.key for s in signals]
            + list(FIGURE_COLUMNS)
            + [f"{s.key}_change" for s in signals]
            + [f"{s.key}_unknown" for s in signals if s.unknown]
            + ["previous_taken_on", "flags", "no_data_reason", "source", "stale", "last_collection_error"]
        )
        for row in data["rows"]:
            yield write(
                [row["name"], row["customer_id"], row["taken_on"].isoformat() if row["taken_on"] else "",
                 row["as_of"].astimezone(datetime.timezone.utc).isoformat() if row["as_of"] else "",
                 row["mfa_source"], row["users_total"], row["in_scope"]]
                + [c["value"] for c in row["cells"]]
                + _figure_cells(row["metrics"])
                + [c["delta"] for c in row["cells"]]
                + [row["unknown"][s.key] for s in signals if s.unknown]
                + [row["previous_on"].isoformat() if row["previous_on"] else "", "; ".join(row["flags"]), row["no_data"],
                   row["source"], "yes" if row["stale"] else "", row["tenant_error"]]
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
        return render(request, "security/customer.html", {
            "customer": customer, "posture": None, "no_posture_reason": rollup.customer_no_posture_reason(customer.pk)})
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


@require_role(Role.ADMIN)
def customer_exceptions(request, customer_id):
    """Record or revoke a documented MFA exception for one of the customer's users (audited)."""
    customer = get_object_or_404(Customer, pk=customer_id)
    form = MfaExceptionForm(customer=customer)
    if request.method == "POST" and request.POST.get("action") == "revoke":
        exception = MfaException.objects.filter(customer=customer, pk=request.POST.get("exception_id") or 0).first()
        if exception is not None:
            mfa_exception_revoke(actor=request.user, exception=exception, request=request)
            messages.success(request, f"Revoked the exception for {exception.user_principal_name}.")
        return redirect("security:exceptions", customer_id=customer.pk)
    if request.method == "POST":
        form = MfaExceptionForm(request.POST, customer=customer)
        if form.is_valid():
            data = form.cleaned_data
            user = form.users[data["user"]]
            mfa_exception_create(
                actor=request.user, customer=customer, graph_id=user.graph_id, upn=user.user_principal_name,
                kind=data["kind"], reason=data["reason"].strip(), owner=data["owner"].strip(),
                approver=data["approver"].strip(), expires_on=data["expires_on"],
                compensating_control=data["compensating_control"].strip(), request=request,
            )
            messages.success(request, f"Recorded an exception for {user.user_principal_name}; it applies from the next posture sync.")
            return redirect("security:exceptions", customer_id=customer.pk)
    today = site_today(timezone.now())
    exceptions = list(MfaException.objects.filter(customer=customer).order_by("user_principal_name", "-created_at"))
    for exception in exceptions:
        exception.status = ("revoked" if exception.revoked_at else "in force" if exception_in_force_on(exception.expires_on, today) else "expired")
    return render(request, "security/exceptions.html", {
        "customer": customer, "form": form, "exceptions": exceptions, "rule": EXCEPTION_RULE,
    })
