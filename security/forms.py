"""The MFA exception form (admin only): every field is required, so an
exception always says why, who owns it, who approved it and until when."""

from django import forms
from django.utils import timezone

from customers.windows import site_today

from .models import DirectoryUser, MfaException

MAX_EXCEPTION_DAYS = 366  # an exception is reviewed at least yearly


class MfaExceptionForm(forms.Form):
    user = forms.ChoiceField(label="User")
    kind = forms.ChoiceField(choices=MfaException.Kind.choices)
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    owner = forms.CharField(max_length=200, help_text="Who is responsible for this account.")
    approver = forms.CharField(max_length=200, help_text="Who approved the exception.")
    expires_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text=f"At most {MAX_EXCEPTION_DAYS} days ahead.")
    compensating_control = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
                                           help_text="What protects the account instead (e.g. Duo push, sealed "
                                                     "credentials with sign-in alerts).")

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.users = {u.graph_id: u for u in DirectoryUser.objects.filter(customer=customer).order_by("user_principal_name")}
        self.fields["user"].choices = [(gid, f"{u.display_name} ({u.user_principal_name})" if u.display_name else
                                        u.user_principal_name) for gid, u in self.users.items()]

    def clean_expires_on(self):
        value = self.cleaned_data["expires_on"]
        today = site_today(timezone.now())
        if value < today:
            raise forms.ValidationError("The expiry date is in the past.")
        if (value - today).days > MAX_EXCEPTION_DAYS:
            raise forms.ValidationError(f"Choose an expiry at most {MAX_EXCEPTION_DAYS} days ahead.")
        return value

    def clean(self):
        cleaned = super().clean()
        for name in ("reason", "owner", "approver", "compensating_control"):
            if name in cleaned and not cleaned[name].strip():
                self.add_error(name, "Required.")
        return cleaned
