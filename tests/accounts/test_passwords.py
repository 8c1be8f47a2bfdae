"""Passwords: a user changes their own (current one required), an admin sets
another's; both end that user's other sessions and are audited. Deactivating
a user ends their sessions."""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from tests.factories import PASSWORD

NEW_PASSWORD = "a-brand-new-passphrase-42"


def sessions_of(user):
    return [s for s in Session.objects.all() if s.get_decoded().get(SESSION_KEY) == str(user.pk)]


def other_browser(user):
    browser = Client()
    browser.force_login(user)
    assert browser.get(reverse("customers:list")).status_code == 200
    return browser


def test_a_user_changes_their_own_password_and_other_sessions_end(member_client, member_user):
    laptop = other_browser(member_user)
    response = member_client.post(reverse("account"), {"old_password": "wrong", "new_password1": NEW_PASSWORD,
                                                       "new_password2": NEW_PASSWORD})
    assert response.status_code == 200 and "incorrect" in response.content.decode()
    member_user.refresh_from_db()
    assert member_user.check_password(PASSWORD)

    response = member_client.post(reverse("account"), {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                       "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    member_user.refresh_from_db()
    assert member_user.check_password(NEW_PASSWORD)
    assert member_client.get(reverse("customers:list")).status_code == 200  # this session stays
    assert laptop.get(reverse("customers:list")).status_code == 302  # the other one is signed out
    assert len(sessions_of(member_user)) == 1
    event = AuditEvent.objects.get(action="user.password_change")
    assert event.actor_id == member_user.pk and event.details["sessions_ended"] == 1
    assert NEW_PASSWORD not in str(event.details)


def test_the_password_change_needs_a_strong_new_password(member_client, member_user):
    response = member_client.post(reverse("account"), {"old_password": PASSWORD, "new_password1": "123",
                                                       "new_password2": "123"})
    assert response.status_code == 200
    member_user.refresh_from_db()
    assert member_user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="user.password_change").exists()


def test_an_admin_sets_another_users_password_and_their_sessions_end(admin_client, admin_user, member_user):
    laptop = other_browser(member_user)
    response = admin_client.post(reverse("user_password", args=[member_user.pk]),
                                 {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    member_user.refresh_from_db()
    assert member_user.check_password(NEW_PASSWORD)
    assert laptop.get(reverse("customers:list")).status_code == 302
    assert sessions_of(member_user) == []
    assert admin_client.get(reverse("customers:list")).status_code == 200
    event = AuditEvent.objects.get(action="user.password_set")
    assert event.actor_id == admin_user.pk and event.target_id == str(member_user.pk)


def test_only_admins_set_passwords_and_never_their_own_here(admin_client, admin_user, member_client, member_user, viewer_user):
    assert member_client.post(reverse("user_password", args=[viewer_user.pk]),
                              {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}).status_code == 403
    admin_client.post(reverse("user_password", args=[admin_user.pk]),
                      {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    admin_user.refresh_from_db()
    viewer_user.refresh_from_db()
    assert admin_user.check_password(PASSWORD) and viewer_user.check_password(PASSWORD)


def test_deactivating_a_user_ends_their_sessions(admin_client, member_user):
    laptop = other_browser(member_user)
    admin_client.post(reverse("user_edit", args=[member_user.pk]),
                      {"work_email": member_user.work_email, "role": "member", "time_zone": ""})
    assert sessions_of(member_user) == []
    assert laptop.get(reverse("customers:list")).status_code == 302
    assert AuditEvent.objects.get(action="user.deactivate").details["sessions_ended"] == 1
