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
from .models import AuditAction, AuditEvent
from .services import audit_export_record

CSV_COLUMNS = ["at", "actor_id", "actor", "action", "target_type", "target_id", "customer_id", "ip_address", "details"]


class AuditFilterForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.all(), required=False, empty_label="Anyone")
    action = forms.ChoiceField(required=False)
    customer = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.Select)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        actions = AuditEvent.objects.order_by().values_list("action", flat=True).distinct()
        labels = dict(AuditAction.choices)
        self.fields["action"].choices = [("", "Any action")] + sorted(((a, labels.get(a, a)) for a in actions),
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


def audit_events_filtered(form):
    events = AuditEvent.objects.select_related("actor")
    if not form.is_valid():
        return events.none()
    data = form.cleaned_data
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
    form = AuditFilterForm(request.GET or None)
    events = audit_events_filtered(form) if request.GET else AuditEvent.objects.select_related("actor")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    _label_page(page)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/list.html", {"form": form, "page": page, "qs": query.urlencode(),
                                               "chain": chain_verify(AuditEvent)})


def audit_customers():
    """(id, name) of every customer the log names, by the newest name each row stored, sorted by name."""
    newest = AuditEvent.objects.exclude(customer_name="").order_by().values("customer_id").annotate(newest=Max("id"))
    rows = AuditEvent.objects.filter(id__in=newest.values("newest")).values_list("customer_id", "customer_name")
    return sorted(rows, key=lambda row: (row[1].casefold(), row[0]))


def _label_page(page):
    """Each row's customer by the name it stored (older rows: by id) and readable details."""
    for event in page:
        event.customer_label = (event.customer_name or f"#{event.customer_id}") if event.customer_id else ""
        event.detail_items = [(key, value if isinstance(value, str) else _json(value)) for key, value in event.details.items()]


@require_role(Role.ADMIN)
def audit_export(request):
    form = AuditFilterForm(request.GET or None)
    events = audit_events_filtered(form) if request.GET else AuditEvent.objects.select_related("actor")
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
