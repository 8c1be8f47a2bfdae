import datetime
import json

from django import forms
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.access import require_role
from accounts.csvsafe import csv_line_writer
from accounts.models import Role, User

from .chain import chain_verify
from .models import AuditEvent, action_label
from .readable import events_label
from .services import audit_export_record

CSV_COLUMNS = ["at", "actor_id", "actor", "action", "target_type", "target_id", "customer_id", "ip_address", "details"]


class AuditFilterForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.all(), required=False, empty_label="Anyone")
    action = forms.ChoiceField(required=False)
    customer = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.Select)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    system = forms.BooleanField(required=False, label="Show system sync rows")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
        self.fields["action"].choices = [("", "Any action")] + sorted(((a, action_label(a)) for a in actions),
                                                                      key=lambda choice: choice[1].casefold())
        self.fields["customer"].widget.choices = [("", "Any customer")] + audit_customers()

    # Dates outside these years are clamped: the log holds nothing there, and
    # the day after 9999-12-31 (or a zone offset at the edges) does not exist.
    EARLIEST, LATEST = datetime.date(2000, 1, 1), datetime.date(2999, 12, 31)

    def _clamped(self, name):
        value = self.cleaned_data.get(name)
        return min(max(value, self.EARLIEST), self.LATEST) if value else value

    def clean_date_from(self):
        return self._clamped("date_from")

    def clean_date_to(self):
        return self._clamped("date_to")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_from"] > cleaned["date_to"]:
            self.add_error("date_to", "“To” is before “From”.")
        return cleaned


# Rows the scheduled mail sync writes by itself (one per mailbox and run): an
# auditor looks for people's actions, so these are hidden unless asked for.
SYSTEM_SYNC_ACTIONS = ("m365.sync",)


def system_sync_rows(events):
    return events.filter(actor__isnull=True, action__in=SYSTEM_SYNC_ACTIONS)


def without_system_sync_rows(events):
    return events.exclude(actor__isnull=True, action__in=SYSTEM_SYNC_ACTIONS)


def audit_events_filtered(form):
    events = AuditEvent.objects.select_related("actor")
    if not form.is_bound:
        return without_system_sync_rows(events)
    if not form.is_valid():
        return events.none()
    data = form.cleaned_data
    if not data.get("system") and data.get("action") not in SYSTEM_SYNC_ACTIONS:
        events = without_system_sync_rows(events)
    if data.get("user"):
        events = events.filter(actor=data["user"])
    if data.get("action"):
        events = events.filter(action=data["action"])
    if data.get("customer"):
        events = events.filter(customer_id=data["customer"])
    zone = timezone.get_current_timezone()
    if data.get("date_from"):
        events = events.filter(at__gte=datetime.datetime.combine(data["date_from"], datetime.time.min, zone))
    if data.get("date_to"):
        events = events.filter(at__lt=datetime.datetime.combine(data["date_to"] + datetime.timedelta(days=1), datetime.time.min, zone))
    return events


@require_role(Role.ADMIN)
def audit_list(request):
    form = AuditFilterForm(_filters(request))
    events = audit_events_filtered(form)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    _label_page(page)
    query = request.GET.copy()
    query.pop("page", None)
    showing_system = form.is_valid() and form.cleaned_data.get("system")
    hidden = 0 if showing_system else system_sync_rows(audit_events_filtered(_form_with_system(form))).count()
    return render(request, "audit/list.html", {"form": form, "page": page, "qs": query.urlencode(),
                                               "chain": chain_verify(AuditEvent), "system_hidden": hidden})


def _filters(request):
    """The filters asked for; none (a bare visit) binds nothing, so the defaults apply."""
    filters = request.GET.copy()
    filters.pop("page", None)
    return filters or None


def _form_with_system(form):
    """The same filters with system sync rows shown: what the toggle would add."""
    data = form.data.copy() if form.is_bound else {}
    data["system"] = "on"
    return AuditFilterForm(data)


def audit_customers():
    """(id, name) of every customer the log names, by the newest name each row stored, sorted by name."""
    newest = AuditEvent.objects.exclude(customer_name="").order_by().values("customer_id").annotate(newest=Max("id"))
    rows = AuditEvent.objects.filter(id__in=newest.values("newest")).values_list("customer_id", "customer_name")
    return sorted(rows, key=lambda row: (row[1].casefold(), row[0]))


def _label_page(page):
    """Each row's customer by the name it stored (older rows: the current name,
    or the id once deleted), linked while the customer exists, and readable
    details (one describer query per target type for the page)."""
    events_label(page.object_list)
    for event in page:
        current = event.customer_link.text if event.customer_link else f"#{event.customer_id} (deleted)"
        event.customer_label = (event.customer_name or current) if event.customer_id else ""


@require_role(Role.ADMIN)
def audit_export(request):
    form = AuditFilterForm(_filters(request))
    events = audit_events_filtered(form)
    # The export holds exactly the rows that existed when it was asked for,
    # and says so in its own audit row (written before any byte is sent).
    newest = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    events = events.filter(id__lte=newest)
    audit_export_record(actor=request.user, rows=events.count(), query=request.GET, request=request)
    line = csv_line_writer()

    def rows():
        yield line(CSV_COLUMNS)
        for event in events.iterator(chunk_size=2000):
            yield line([
                event.at.isoformat(), event.actor_id or "", event.actor_label, event.action, event.target_type,
                event.target_id, event.customer_id or "", event.ip_address or "", _json(event.details),
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="vectis-audit-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


def _json(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
