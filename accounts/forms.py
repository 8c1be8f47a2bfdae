import zoneinfo

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.core.exceptions import ValidationError

from .models import Role, User

USERNAME_HELP = "ASCII letters, digits and @ . + - _ only (no spaces)."


def username_validate_new(raw):
    """Normalise (NFKC, as sign-in does), check with Django's username validators,
    then check it is free in any case: "ａdmin" is "admin" and is taken."""
    username = User.normalize_username((raw or "").strip())
    try:
        ASCIIUsernameValidator()(username)
    except ValidationError:
        raise ValidationError(f"Choose another username: {USERNAME_HELP}") from None
    User._meta.get_field("username").run_validators(username)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError(f"The username {username} is taken.")
    return username

TIME_ZONE_CHOICES = [("", "Site default")] + [(z, z) for z in sorted(zoneinfo.available_timezones()) if "/" in z]


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150, help_text=f"Used to sign in. {USERNAME_HELP}")
    work_email = forms.EmailField(
        label="Work email",
        help_text="Members and viewers see only communications this address took part in.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, required=False)
    password = forms.CharField(widget=forms.PasswordInput, help_text="At least 10 characters.")

    def clean_username(self):
        return username_validate_new(self.cleaned_data["username"])

    def clean_work_email(self):
        email = self.cleaned_data["work_email"].strip().lower()
        if User.objects.filter(work_email=email).exists():
            raise ValidationError(f"{email} already belongs to another user.")
        return email

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            try:
                validate_password(cleaned["password"], User(username=cleaned.get("username", ""), work_email=cleaned.get("work_email", "")))
            except ValidationError as error:
                self.add_error("password", error)
        return cleaned


class UserEditForm(forms.Form):
    """Admins edit other users. The view refuses the admin's own account."""

    work_email = forms.EmailField(label="Work email")
    role = forms.ChoiceField(choices=Role.choices)
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, required=False)
    is_active = forms.BooleanField(label="Active (may sign in)", required=False)

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_work_email(self):
        email = self.cleaned_data["work_email"].strip().lower()
        if User.objects.filter(work_email=email).exclude(pk=self.user.pk).exists():
            raise ValidationError(f"{email} already belongs to another user.")
        return email


class OwnTimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(choices=TIME_ZONE_CHOICES, required=False, label="Show times in")


class AdminPasswordSetForm(SetPasswordForm):
    """An admin chooses a new password for another user (Django's validators apply)."""
