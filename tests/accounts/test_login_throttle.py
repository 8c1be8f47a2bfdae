"""Sign-in throttling: look-alike names share one counter, one address cannot
lock every account, a lock reads like a wrong password, and guessing cannot
flood the audit log."""

import pytest
from django.urls import reverse

from accounts import login_throttle
from accounts.models import Role
from audit.models import AuditEvent
from tests.factories import PASSWORD, make_user

WRONG_PASSWORD_MESSAGE = "Wrong username or password"


def sign_in(client, username, password, address="203.0.113.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client):
    return "_auth_user_id" in client.session


@pytest.fixture
def tech2(db):
    return make_user("tech2", Role.MEMBER)


@pytest.mark.parametrize("variant", ["ｔech2", "tｅch2", "𝐭ech2", "tech２", "TECH2", " tech2 "])
def test_look_alike_names_share_the_lock(client, tech2, variant):
    for _ in range(login_throttle.MAX_FAILURES):
        sign_in(client, "tech2", "guess")
    response = sign_in(client, variant, PASSWORD)
    assert response.status_code == 200 and not signed_in(client)
    # Guesses under a look-alike count against the same name.
    assert login_throttle.login_failure_count(username="tech2", user_id=tech2.pk) >= login_throttle.MAX_FAILURES


def test_look_alike_guesses_lock_the_real_name(client, tech2):
    variants = ["ｔech2", "tｅch2", "𝐭ech2", "tech２", "TECH2"]
    for i in range(login_throttle.MAX_FAILURES):
        sign_in(client, variants[i % len(variants)], "guess")
    sign_in(client, "tech2", PASSWORD)
    assert not signed_in(client)


def test_a_locked_account_reads_like_a_wrong_password(client, tech2):
    wrong = sign_in(client, "tech2", "guess")
    for _ in range(login_throttle.MAX_FAILURES):
        sign_in(client, "tech2", "guess")
    locked = sign_in(client, "tech2", PASSWORD)
    assert locked.status_code == wrong.status_code == 200
    assert WRONG_PASSWORD_MESSAGE in locked.content.decode()
    assert "Too many" not in locked.content.decode()
    assert not signed_in(client)


def test_a_lock_is_per_name_and_passes(client, tech2, admin_user):
    for _ in range(login_throttle.MAX_FAILURES):
        sign_in(client, "tech2", "guess")
    sign_in(client, "ada", PASSWORD, address="198.51.100.9")
    assert signed_in(client)
    client.logout()
    login_throttle.login_failures_clear(username="tech2", user_id=tech2.pk)  # as when the window passes
    assert sign_in(client, "tech2", PASSWORD, address="198.51.100.9").status_code == 302


def test_one_address_cannot_lock_every_account(client, db):
    users = [make_user(f"user{i}", Role.MEMBER) for i in range(6)]
    for user in users:
        for _ in range(login_throttle.MAX_FAILURES):
            sign_in(client, user.username, "guess", address="203.0.113.66")
    # The address was refused long before it could lock all six.
    locked = [u for u in users if login_throttle.login_locked(username=u.username, user_id=u.pk)]
    assert len(locked) <= login_throttle.ADDRESS_MAX_FAILURES // login_throttle.MAX_FAILURES < len(users)
    # Everyone else, from their own address, signs in to an account it did not lock.
    unlocked = next(u for u in users if u not in locked)
    assert sign_in(client, unlocked.username, PASSWORD, address="192.0.2.10").status_code == 302
    # And the throttled address is refused even with a right password.
    client.logout()
    assert sign_in(client, unlocked.username, PASSWORD, address="203.0.113.66").status_code == 200
    assert not signed_in(client)
    assert AuditEvent.objects.filter(action="auth.address_throttled").count() == 1


def test_repeated_failures_are_one_audit_row_with_a_count(client, tech2):
    for _ in range(login_throttle.MAX_FAILURES + 5):
        sign_in(client, "𝐭ech2", "guess")
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert failed.count() == 1
    row = failed.get()
    # Recorded under the name that was authenticated, so filtering by tech2 finds it.
    assert row.details["username"] == "tech2" and row.details["typed"] == "𝐭ech2" and row.details["count"] == 1
    assert row.target_id == str(tech2.pk)
    locked = AuditEvent.objects.get(action="auth.login_locked")
    assert locked.details["count"] == login_throttle.MAX_FAILURES
    assert AuditEvent.objects.count() == 2


@pytest.mark.parametrize("username", ["tech\x002", "a" * 151, "x" * 100_000, "tech\t2", "\x1b[31m"])
def test_impossible_usernames_are_refused_before_auditing(client, tech2, username):
    response = sign_in(client, username, PASSWORD)
    assert response.status_code == 200 and WRONG_PASSWORD_MESSAGE in response.content.decode()
    assert not signed_in(client)
    assert not AuditEvent.objects.exists()


def test_counters_live_in_the_shared_cache(client, tech2, settings):
    """A second cache client (another web process) sees the same count."""
    from django.core.cache import caches

    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        pytest.skip("no shared cache without REDIS_URL (production refuses to start without it)")
    sign_in(client, "tech2", "guess")
    other_process = caches.create_connection("default")
    assert other_process.get(login_throttle._key("name", "tech2")) == 1
