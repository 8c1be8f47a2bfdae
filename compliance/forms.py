"""The compliance page's selection: customer, framework and snapshot date."""

from datetime import date

from django import forms
from django.db.models.functions import Lower
from django.urls import reverse

from customers.models import Customer
from security.models import PostureSnapshot

from .controls import FRAMEWORKS

DATES_LISTED = 120  # the date picker lists this many recent snapshots; any older date still works by URL


def customers_with_snapshots(selected_id=None):
    """Customers that have a posture snapshot, plus the preselected one (so its empty state can show)."""
    has_snapshot = PostureSnapshot.objects.values("customer_id")
    queryset = Customer.objects.filter(pk__in=has_snapshot)
    if selected_id is not None:
        queryset = Customer.objects.filter(pk__in=has_snapshot) | Customer.objects.filter(pk=selected_id)
    return queryset.order_by(Lower("name"), "pk")


def snapshot_dates(customer):
    return list(PostureSnapshot.objects.filter(customer=customer).order_by("-taken_on")
                .values_list("taken_on", flat=True)[:DATES_LISTED])


def snapshot_date_choices(customer, dates):
    if customer is None:
        return [("", "Pick a customer first")]
    if not dates:
        return [("", "No snapshots yet")]
    return [(d.isoformat(), d.isoformat() + (" (latest)" if i == 0 else "")) for i, d in enumerate(dates)]


class PackSelectionForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), empty_label="Choose a customer…",
                                      error_messages={"invalid_choice": "Choose a customer from the list."})
    framework = forms.ChoiceField(choices=[(key, f.short_label) for key, f in FRAMEWORKS.items()],
                                  error_messages={"invalid_choice": "Choose CMMC, HIPAA or SOC 2."})
    date = forms.CharField(required=False, label="Snapshot date", widget=forms.Select)

    def __init__(self, data=None):
        """Unbound (nothing chosen yet) when data is None; `?customer=<id>` alone picks the first framework."""
        if data is not None:
            data = data.copy()
            data.setdefault("framework", next(iter(FRAMEWORKS)))
        super().__init__(data, initial={"framework": next(iter(FRAMEWORKS))})
        try:
            selected_id = int((data or {}).get("customer") or "")
        except ValueError:
            selected_id = None
        self.fields["customer"].queryset = customers_with_snapshots(selected_id)
        self.snapshot = None
        self.notice = ""
        customer = self.fields["customer"].queryset.filter(pk=selected_id).first() if selected_id else None
        self.dates = snapshot_dates(customer) if customer else []
        self.fields["date"].widget.choices = snapshot_date_choices(customer, self.dates)
        # Picking a customer loads its snapshot dates at once (htmx), before anything is submitted.
        self.fields["customer"].widget.attrs.update({
            "hx-get": reverse("compliance:dates"), "hx-trigger": "change", "hx-target": "#id_date", "hx-swap": "innerHTML",
        })

    def clean_date(self):
        raw = self.cleaned_data["date"].strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise forms.ValidationError("Enter a date as YYYY-MM-DD.") from None

    def clean(self):
        cleaned = super().clean()
        customer, wanted = cleaned.get("customer"), cleaned.get("date")
        if customer is None or self.has_error("date"):
            return cleaned
        snapshots = PostureSnapshot.objects.filter(customer=customer).select_related("customer")
        if wanted is not None:
            self.snapshot = snapshots.filter(taken_on=wanted).first()
        if self.snapshot is None:
            self.snapshot = snapshots.order_by("-taken_on").first()
            if wanted is not None and self.snapshot is not None:
                # Typically the date of the previously chosen customer: show what exists, say so.
                self.notice = (f"{customer.name} has no snapshot on {wanted.isoformat()}; "
                               f"showing the latest, {self.snapshot.taken_on.isoformat()}.")
        if self.snapshot is not None:
            self.data = self.data.copy()
            self.data["date"] = self.snapshot.taken_on.isoformat()
        return cleaned
