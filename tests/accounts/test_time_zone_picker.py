"""Accounts: the time-zone picker names the site default, offers UTC first,
shows each zone's offset today, leaves out legacy aliases; roles are described
where they are chosen."""

import re

from django.test import Client, override_settings
from django.urls import reverse

from accounts.forms import time_zone_choices
from accounts.models import Role
from tests.factories import make_user


def options(page, name="time_zone"):
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)


@override_settings(TIME_ZONE="UTC")
def test_the_picker_names_the_default_puts_utc_first_and_shows_offsets(member_client):
    page = member_client.get(reverse("account")).content.decode()
    listed = options(page)
    assert listed[0] == ("", "Site default (UTC)")
    assert listed[1] == ("UTC", "UTC (UTC+00:00)")
    labels = dict(listed)
    assert labels["Asia/Kolkata"] == "Asia/Kolkata (UTC+05:30)"  # no daylight saving there: a fixed offset
    assert re.fullmatch(r"America/New York \(UTC−0[45]:00\)", labels["America/New_York"])
    assert 'data-browser-zone="first"' in page


def test_legacy_aliases_are_not_offered_but_a_user_who_has_one_keeps_it(admin_user, member_user):
    values = {value for value, _ in time_zone_choices()}
    for legacy in ("US/Eastern", "Europe/Kiev", "Asia/Calcutta", "GB", "Etc/GMT+5", "America/Buenos_Aires"):
        assert legacy not in values
    assert {"Europe/Kyiv", "Asia/Kolkata", "America/Argentina/Buenos_Aires"} <= values
    # Picking a legacy alias by hand is refused where it was typed, and nothing is saved.
    member_client, admin_client = Client(), Client()
    member_client.force_login(member_user)
    admin_client.force_login(admin_user)
    response = member_client.post(reverse("account"), {"time_zone": "US/Eastern"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    member_user.refresh_from_db()
    assert member_user.time_zone == ""
    # An account already on a legacy name (set before this list) can still be saved unchanged.
    member_user.time_zone = "Europe/Kiev"
    member_user.save()
    page = admin_client.get(reverse("user_edit", args=[member_user.pk])).content.decode()
    assert ("Europe/Kiev", dict(options(page))["Europe/Kiev"]) in options(page) and "legacy name" in page
    admin_client.post(reverse("user_edit", args=[member_user.pk]),
                      {"work_email": member_user.work_email, "role": "member", "time_zone": "Europe/Kiev", "is_active": "on"})
    member_user.refresh_from_db()
    assert member_user.time_zone == "Europe/Kiev"


def test_roles_are_described_where_they_are_chosen(admin_client):
    viewer = make_user("vic", Role.VIEWER)
    for url in (reverse("users"), reverse("user_edit", args=[viewer.pk])):
        page = admin_client.get(url).content.decode()
        help_list = re.search(r'<ul class="role-help".*?</ul>', page, re.S).group(0)
        assert "<strong>Admin</strong>" in help_list and "audit log" in help_list
        assert "<strong>Member (technician)</strong>" in help_list and "took part in" in help_list
        assert "<strong>Viewer (auditor)</strong>" in help_list and "read-only" in help_list
