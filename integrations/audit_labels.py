"""How audit rows about the Microsoft 365 connection and its mailboxes are named,
linked and summed up (audit.readable)."""

from django.urls import reverse

from audit.readable import TargetLabel, details_summariser_register, target_describer_register
from security.models import CustomerTenant

from .mail.sync import FOLDER_LABELS
from .setup.models import M365Connection


def connections_describe(ids):
    page = reverse("integrations:index")
    return {str(pk): TargetLabel("Microsoft 365 connection", page)
            for pk in M365Connection.objects.filter(pk__in=[i for i in ids if str(i).isdigit()]).values_list("pk", flat=True)}


def customer_tenants_describe(ids):
    """A customer-tenant link by its customer, linked to that customer's tenant page (while the link exists)."""
    links = CustomerTenant.objects.filter(pk__in=[int(i) for i in ids if str(i).isdigit()]).values_list("pk", "customer_id", "customer__name")
    return {str(pk): TargetLabel(f"Microsoft 365 tenant of {name}", reverse("integrations:customer_tenant", args=[customer_id]))
            for pk, customer_id, name in links}


def mailboxes_describe(ids):
    page = reverse("integrations:index")
    return {upn: TargetLabel(f"mailbox {upn}", page) for upn in ids}


def sync_summary(details):
    """One line for a mailbox sync's row, e.g. "manual sync: ok — Inbox 3 kept of 41 seen · Sent items 0 kept of 2
    seen · Calendar 5 kept of 5 seen · 9 Graph requests"."""
    runs = details.get("runs") if isinstance(details.get("runs"), dict) else {}
    head = f"{details.get('reason', '')} sync{', full read' if details.get('full') else ''}: "
    head += "ok" if details.get("outcome") == "success" else str(details.get("outcome", ""))
    parts, requests, retries = [], 0, 0
    for folder, run in runs.items():
        if not isinstance(run, dict):
            continue
        text = f"{FOLDER_LABELS.get(folder, folder)} {run.get('kept', 0)} kept of {run.get('seen', 0)} seen"
        if run.get("removed"):
            text += f", {run['removed']} removed"
        if run.get("outcome") not in (None, "success"):
            text += f" ({run['outcome']})"
        parts.append(text)
        requests += int(run.get("graph_requests") or 0)
        retries += int(run.get("retries") or 0)
    if not parts:
        return head
    tail = f"{requests} Graph request{'s' if requests != 1 else ''}" + (f", {retries} retries" if retries else "")
    return f"{head} — {' · '.join(parts)} · {tail}"


def register():
    target_describer_register(M365Connection._meta.label_lower, connections_describe)
    target_describer_register("mailbox", mailboxes_describe)
    target_describer_register(CustomerTenant._meta.label_lower, customer_tenants_describe)
    details_summariser_register("m365.sync", sync_summary)
