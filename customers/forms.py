import re

from django import forms
from django.core.exceptions import ValidationError

from accounts.text import single_line_name_validate

from .models import Customer
from .services import domain_validate_for_customer

_SPLIT = re.compile(r"[\s,;]+")
NOTES_MAX_LENGTH = 10_000


def split_domains(text):
    return [part for part in _SPLIT.split(text or "") if part]


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200, validators=[single_line_name_validate])
    domains = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "fabrikam.com, fabrikam.co.uk"}),
        help_text="The customer's email domains, separated by commas or new lines. "
        "Subdomains match automatically (eu.fabrikam.com matches fabrikam.com).",
    )
    notes = forms.CharField(required=False, max_length=NOTES_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, customer=None, **kwargs):
        self.customer = customer
        super().__init__(*args, **kwargs)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Enter the customer's name.")
        clash = Customer.objects.filter(name__iexact=name)
        if self.customer is not None:
            clash = clash.exclude(pk=self.customer.pk)
        if clash.exists():
            raise ValidationError(f"A customer called {name} already exists.")
        return name

    def clean_domains(self):
        errors, domains = [], []
        for raw in split_domains(self.cleaned_data["domains"]):
            try:
                domain = domain_validate_for_customer(raw, customer=self.customer)
            except ValidationError as error:
                errors.extend(error.messages)
                continue
            if domain not in domains:
                domains.append(domain)
        if errors:
            raise ValidationError(errors)
        return domains


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200, validators=[single_line_name_validate])
    email = forms.EmailField()

    def __init__(self, *args, customer, **kwargs):
        self.customer = customer
        super().__init__(*args, **kwargs)

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if self.customer.contacts.filter(email=email).exists():
            raise ValidationError(f"{email} is already a contact of {self.customer.name}.")
        return email


class CsvImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Columns: name, domains (separated by ; or spaces), notes (optional). First row is the header.",
    )

    MAX_BYTES = 2 * 1024 * 1024

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise ValidationError("The file is larger than 2 MB; split it into smaller files.")
        raw = upload.read()
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.") from None
