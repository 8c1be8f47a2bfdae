import datetime
import os
import zoneinfo
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
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

ROLE_HELP = {
    Role.ADMIN: "everything: customers, users, Microsoft 365, MFA exceptions and the audit log; sees all email and meetings.",
    Role.MEMBER: "reads customers, security posture and evidence packs; sees only email and meetings "
                 "their work email took part in.",
    Role.VIEWER: "the same read-only pages as a member, for auditors and managers; sees only communications "
                 "their work email took part in (usually none).",
}
ROLE_HELP_ITEMS = [(Role(role).label, text) for role, text in ROLE_HELP.items()]

# Regions of the canonical zone names; the fallback when zone.tab cannot be read.
ZONE_REGIONS = ("Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/", "Australia/", "Europe/",
                "Indian/", "Pacific/")


def _canonical_zones():
    """The tz database's current names (zone.tab: one line per zone), without
    the legacy aliases it keeps for old systems (US/Eastern, Europe/Kiev,
    Asia/Calcutta)."""
    for directory in zoneinfo.TZPATH:
        try:
            with open(os.path.join(directory, "zone.tab"), encoding="utf-8") as table:
                names = {line.split("\t")[2].strip() for line in table if line.strip() and not line.startswith("#")}
        except (OSError, IndexError):
            continue
        return sorted(names & zoneinfo.available_timezones())
    return sorted(z for z in zoneinfo.available_timezones() if z.startswith(ZONE_REGIONS))


CANONICAL_ZONES = _canonical_zones()


def _offset(zone, now):
    minutes = int(now.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() // 60)
    sign = "+" if minutes >= 0 else "−"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def time_zone_choices(current=""):
    """Site default (naming it), UTC, then every canonical zone with its offset
    today. The browser's own zone is moved up by vectis.js. A legacy name a
    user already has stays selectable, so saving another field keeps it."""
    now = datetime.datetime.now(datetime.UTC)
    choices = [("", f"Site default ({settings.TIME_ZONE})"), ("UTC", "UTC (UTC+00:00)")]
    choices += [(zone, f"{zone.replace('_', ' ')} ({_offset(zone, now)})") for zone in CANONICAL_ZONES]
    if current and current not in CANONICAL_ZONES and current != "UTC" and current in zoneinfo.available_timezones():
        choices.append((current, f"{current} (legacy name, {_offset(current, now)})"))
    return choices


class TimeZoneField(forms.ChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Your browser's zone is listed first after UTC.")
        super().__init__(choices=time_zone_choices, required=False, **kwargs)
        self.widget.attrs["data-browser-zone"] = "first"


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150, help_text=f"Used to sign in. {USERNAME_HELP}")
    work_email = forms.EmailField(
        label="Work email",
        help_text="Members and viewers see only communications this address took part in.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)
    role_help = ROLE_HELP_ITEMS
    time_zone = TimeZoneField()
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
    role_help = ROLE_HELP_ITEMS
    time_zone = TimeZoneField()
    is_active = forms.BooleanField(label="Active (may sign in)", required=False)

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices(user.time_zone)

    def clean_work_email(self):
        email = self.cleaned_data["work_email"].strip().lower()
        if User.objects.filter(work_email=email).exclude(pk=self.user.pk).exists():
            raise ValidationError(f"{email} already belongs to another user.")
        return email


class OwnTimeZoneForm(forms.Form):
    time_zone = TimeZoneField(label="Show times in")

    def __init__(self, *args, current="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices(current)


class AdminPasswordSetForm(SetPasswordForm):
    """An admin chooses a new password for another user (Django's validators apply)."""
