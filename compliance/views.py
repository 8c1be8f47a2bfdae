"""The compliance page (control rows on screen) and the pack download.

Every role may use both: auditors are usually viewers. A download writes its
audit row (who, customer, framework, snapshot, hashes) before any byte is sent.
"""

from datetime import date

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.access import require_role
from security.models import PostureSnapshot
from security.posture import posture_source

from .controls import framework_by_key
from .evaluate import REGISTERED_NOT_ENFORCED, RESULT_LABELS, enforcement_was_read
from .exports import MFA_SOURCE_LABELS, UNKNOWN_RULE
from .forms import PackSelectionForm, customers_with_snapshots, snapshot_date_choices, snapshot_dates
from .packs import build_pack, pack_source
from .population import SnapshotUnreadable
from .report import PROTECTED_NOTE, enforcement_text
from .services import pack_download_record

NAMED_OPEN_UP_TO = 12  # longer account lists start folded on screen


@require_role()
@require_GET
def compliance_index(request):
    form = PackSelectionForm(request.GET or None)
    valid = form.is_bound and form.is_valid()
    context = {
        "form": form, "has_any_snapshot": PostureSnapshot.objects.exists(),
        "customer": form.cleaned_data.get("customer") if valid else None, "notice": form.notice,
        "registered_not_enforced": REGISTERED_NOT_ENFORCED, "unknown_rule": UNKNOWN_RULE,
    }
    if valid and form.snapshot is not None:
        try:
            context.update(_rows_context(form.snapshot, framework_by_key(form.cleaned_data["framework"])))
        except SnapshotUnreadable as error:
            context["unreadable"] = str(error)
    return render(request, "compliance/index.html", context)


@require_role()
@require_GET
def snapshot_dates_options(request):
    """The Snapshot date options of the customer just picked (htmx swaps them into the select)."""
    try:
        customer_id = int(request.GET.get("customer", ""))
    except ValueError:
        customer_id = None
    customer = customers_with_snapshots().filter(pk=customer_id).first() if customer_id and 0 < customer_id < 2**63 else None
    choices = snapshot_date_choices(customer, snapshot_dates(customer) if customer else [])
    return render(request, "compliance/_date_options.html", {"choices": choices})


def _rows_context(snapshot, framework):
    """What the page shows before download: the same evaluation the pack is built from."""
    source = pack_source(snapshot, framework)
    evaluation = source.evaluation
    return {
        "source": source, "evaluation": evaluation, "framework": framework, "snapshot": snapshot,
        "named_open_up_to": NAMED_OPEN_UP_TO,
        "result_summary": [(key, label, evaluation.result_counts[key]) for key, label in RESULT_LABELS.items()],
        "mfa_source": MFA_SOURCE_LABELS.get(source.provenance.get("mfa_source"), "not recorded"),
        "posture_source": posture_source(source.provenance),
        "enforcement_text": enforcement_text(source.provenance),
        "enforcement_read": enforcement_was_read(source.provenance),
        "protected_note": PROTECTED_NOTE,
    }


def _selected_snapshot(post):
    """The exact snapshot a download form names, or None: a download never falls back to another date."""
    try:
        customer_id = int(post.get("customer", ""))
        taken_on = date.fromisoformat(post.get("date", ""))
    except ValueError:
        return None
    if not 0 < customer_id < 2**63:
        return None
    return PostureSnapshot.objects.select_related("customer").filter(customer_id=customer_id, taken_on=taken_on).first()


@require_role()
@require_POST
@never_cache
def pack_download(request):
    framework = framework_by_key(request.POST.get("framework", ""))
    snapshot = _selected_snapshot(request.POST)
    if framework is None or snapshot is None:
        messages.error(request, "That customer, framework and snapshot date do not name an existing snapshot.")
        return redirect("compliance:index")
    back = reverse("compliance:index") + f"?customer={snapshot.customer_id}&framework={framework.key}&date={snapshot.taken_on}"
    try:
        source = pack_source(snapshot, framework)
        pack = build_pack(source)
    except SnapshotUnreadable as error:
        messages.error(request, f"This snapshot cannot be turned into a pack: {error}")
        return redirect(back)
    pack_download_record(actor=request.user, snapshot=snapshot, framework=framework, source=source, pack=pack,
                         request=request)
    response = HttpResponse(pack.data, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, pack.filename)
    response["Content-Length"] = str(len(pack.data))
    return response
