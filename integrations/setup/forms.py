import re
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from customers.domains import DomainError, address_domain, address_normalise, domain_normalise
from customers.matching import customer_matcher_build

_MAILBOX_SPLIT = re.compile(r"[,;\s]+")


def parse_mailboxes(text):
    """Split on commas, semicolons and new lines; normalise (customers.domains.address_normalise);
    keep first occurrence order."""
    seen = []
    for part in _MAILBOX_SPLIT.split(text or ""):
        address = address_normalise(part.strip().strip("<>"))
        if address and address not in seen:
            seen.append(address)
    return seen


def _guid(value, what, where):
    value = (value or "").strip()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValidationError(
            f"Enter the {what}: a GUID such as 8a2f5c1e-3b4d-4e6f-9a0b-1c2d3e4f5a6b. {where}"
        ) from None


class ConnectionForm(forms.Form):
    tenant_id = forms.CharField(
        label="Tenant ID", max_length=64,
        help_text="Directory (tenant) ID from the app registration's Overview page in Entra ID.",
    )
    client_id = forms.CharField(
        label="App Client ID", max_length=64,
        help_text="Application (client) ID from the same Overview page.",
    )
    client_secret = forms.CharField(
        label="Client Secret Value", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The secret's Value (not its Secret ID) from Certificates & secrets.",
    )
    mailboxes = forms.CharField(
        label="Technician Mailboxes", required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "jane@msp.com\njack@msp.com"}),
        help_text="Your technicians' mailbox UPNs, one per line (commas work too). Only these mailboxes are ever read.",
    )
    own_domains = forms.CharField(
        label="Other MSP domains", required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "contoso-msp.co.uk"}),
        help_text="Optional, one per line: your own domains besides your technicians' mailbox domains (those count "
                  "already). Mail from them is shown as Sent, and none of them can be a customer's.",
    )
    secret_expires_on = forms.DateField(
        label="Secret expires on", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional. Vectis warns every admin from 14 days before.",
    )

    def __init__(self, *args, connection=None, **kwargs):
        self.connection = connection
        super().__init__(*args, **kwargs)
        if connection is not None:
            self.fields["client_secret"].help_text = (
                f"Set on {connection.secret_set_at:%d %b %Y}. Leave blank to keep it; paste a new Value to replace it."
            )

    def clean_tenant_id(self):
        return _guid(self.cleaned_data["tenant_id"], "Directory (tenant) ID",
                     "Copy it from Entra ID → App registrations → Vectis → Overview.")

    def clean_client_id(self):
        return _guid(self.cleaned_data["client_id"], "Application (client) ID",
                     "Copy it from Entra ID → App registrations → Vectis → Overview.")

    def clean_client_secret(self):
        secret = self.cleaned_data["client_secret"]
        if not secret and self.connection is None:
            raise ValidationError("Paste the client secret Value from Certificates & secrets.")
        if secret:
            try:
                uuid.UUID(secret)
            except ValueError:
                pass
            else:
                raise ValidationError(
                    "This looks like the Secret ID. Paste the secret's Value instead "
                    "(shown once, when the secret is created)."
                )
        return secret

    def clean_own_domains(self):
        domains, errors = [], []
        matcher = customer_matcher_build()
        for raw in _MAILBOX_SPLIT.split(self.cleaned_data["own_domains"] or ""):
            if not raw:
                continue
            try:
                domain = domain_normalise(raw)
            except DomainError as error:
                errors.append(str(error))
                continue
            if matcher.overlaps_customer_domain(domain):
                errors.append(f"{domain} is (or contains) a customer's domain: it cannot be yours too.")
            elif domain not in domains:
                domains.append(domain)
        if errors:
            raise ValidationError(errors)
        return domains

    def clean_mailboxes(self):
        mailboxes = parse_mailboxes(self.cleaned_data["mailboxes"])
        if not mailboxes:
            raise ValidationError("Enter at least one technician mailbox")
        errors = []
        for address in mailboxes:
            try:
                validate_email(address)
            except ValidationError:
                errors.append(f"“{address}” is not a mailbox address: use the UPN, like jane@msp.com.")
        matcher = customer_matcher_build()
        for address in mailboxes:
            if address_domain(address) and matcher.customer_for_address(address) is not None:
                errors.append(f"{address} is at a customer's domain; technician mailboxes are your own staff's.")
        if errors:
            raise ValidationError(errors)
        return mailboxes
