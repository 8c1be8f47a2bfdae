import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Role, User
from audit.models import AuditEvent


def test_admin_cannot_edit_own_account(admin_client, admin_user):
    response = admin_client.post(reverse("user_edit", args=[admin_user.pk]),
                                 {"work_email": "new@msp.example", "role": "viewer", "is_active": "on"})
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN and admin_user.work_email == "ada@msp.example"


def test_account_page_changes_only_time_zone(member_client, member_user):
    member_client.post(reverse("account"), {"time_zone": "Europe/London", "role": "admin", "work_email": "boss@msp.example"})
    member_user.refresh_from_db()
    assert member_user.time_zone == "Europe/London"
    assert member_user.role == Role.MEMBER and member_user.work_email == "mo@msp.example"


def test_member_cannot_reach_user_admin(member_client, viewer_user):
    response = member_client.post(reverse("user_edit", args=[viewer_user.pk]), {"work_email": "x@msp.example", "role": "admin"})
    assert response.status_code == 403
    viewer_user.refresh_from_db()
    assert viewer_user.role == Role.VIEWER


def test_user_form_rejects_duplicates_and_weak_passwords(admin_client, member_user):
    response = admin_client.post(reverse("users"), {"username": "MO", "work_email": "mo@msp.example", "role": "member", "password": "123"})
    body = response.content.decode()
    assert "The username MO is taken" in body
    assert "mo@msp.example already belongs to another user" in body
    assert "too short" in body
    assert User.objects.count() == 2


def test_deactivated_user_cannot_sign_in(client, admin_client, member_user):
    admin_client.post(reverse("user_edit", args=[member_user.pk]), {"work_email": member_user.work_email, "role": "member", "time_zone": ""})
    member_user.refresh_from_db()
    assert not member_user.is_active
    client.logout()
    response = client.post(reverse("login"), {"username": "mo", "password": "correct-horse-battery-staple"})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_create_admin_non_interactive(db, monkeypatch, capsys):
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", "a-very-long-password-1")
    call_command("create_admin", "--username", "root", "--email", "Root@MSP.example", "--password-env", "FIRST_ADMIN_PASSWORD", "--no-input")
    admin = User.objects.get(username="root")
    assert admin.role == Role.ADMIN and admin.work_email == "root@msp.example" and admin.check_password("a-very-long-password-1")
    assert AuditEvent.objects.filter(action="user.create", target_id=str(admin.pk)).exists()
    call_command("create_admin", "--if-missing", "--no-input")
    assert User.objects.count() == 1
    with pytest.raises(CommandError, match="taken"):
        call_command("create_admin", "--username", "root", "--email", "x@msp.example", "--password-env", "FIRST_ADMIN_PASSWORD", "--no-input")


def test_create_admin_interactive(db, monkeypatch):
    answers = iter(["alice", "alice@msp.example"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    monkeypatch.setattr("getpass.getpass", lambda prompt: "another-long-password-2")
    call_command("create_admin")
    assert User.objects.get(username="alice").role == Role.ADMIN


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("customers:list"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_login_ignores_offsite_next(client, admin_user):
    response = client.post(reverse("login") + "?next=https://evil.example/", {"username": "ada", "password": "correct-horse-battery-staple", "next": "https://evil.example/"})
    assert response["Location"] == reverse("customers:list")


def test_repeated_failed_sign_ins_lock_the_username_for_a_while(client, admin_user):
    from accounts.login_throttle import MAX_FAILURES, login_failures_clear

    for _ in range(MAX_FAILURES):
        assert client.post(reverse("login"), {"username": "ada", "password": "guess"}).status_code == 200
    # Now even the right password is refused until the window passes, with the wrong-password answer.
    response = client.post(reverse("login"), {"username": "ada", "password": "correct-horse-battery-staple"})
    assert response.status_code == 200 and "Wrong username or password" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="auth.login_locked").count() == 1
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 1
    # Another user is not affected.
    assert client.post(reverse("login"), {"username": "someone-else", "password": "x"}).status_code == 200
    login_failures_clear(username="ada", user_id=admin_user.pk)  # as when the window passes
    response = client.post(reverse("login"), {"username": "ada", "password": "correct-horse-battery-staple"})
    assert response.status_code == 302


@pytest.mark.parametrize("username,message", [
    ("ａdmin", "The username admin is taken"),
    ("𝐚dmin", "The username admin is taken"),
    ("ADMIN", "The username ADMIN is taken"),
    ("<b>bold</b> user", "Choose another username"),
    ("tab\tuser", "Choose another username"),
    ("=HYPERLINK(\"https://evil.example\")", "Choose another username"),
    ("аdmin", "Choose another username"),  # Cyrillic а: a look-alike, not ASCII
    ("evil\u202euser", "Choose another username"),
])
def test_usernames_are_normalised_and_validated_before_the_uniqueness_check(admin_client, username, message):
    from tests.factories import make_user

    make_user("admin", Role.ADMIN)
    before = User.objects.count()
    response = admin_client.post(reverse("users"), {"username": username, "work_email": "new@msp.example",
                                                    "role": "member", "password": "a-long-enough-password-9"})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == before
