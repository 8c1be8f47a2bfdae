"""User writes. Each writes its audit row; none lets a user change their own role or email."""

from django.contrib.auth import SESSION_KEY
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from . import login_throttle
from .audit_hook import account_audit, client_ip
from .models import User


@transaction.atomic
def user_create(*, actor, username, work_email, role, password, time_zone="", request=None):
    user = User.objects.create_user(username=username, email=work_email, password=password,
                                    work_email=work_email, role=role, time_zone=time_zone)
    account_audit(actor=actor, action="user.create", target=user, request=request,
              details={"username": username, "work_email": work_email, "role": role})
    return user


@transaction.atomic
def user_update(*, actor, user, work_email, role, is_active, time_zone, request=None):
    if actor.pk == user.pk:
        # No path lets anyone change their own role, email or active state.
        raise PermissionDenied("You cannot change your own account here.")
    changes = {}
    for field, value in (("work_email", work_email), ("role", role), ("is_active", is_active), ("time_zone", time_zone)):
        if getattr(user, field) != value:
            changes[field] = [getattr(user, field), value]
            setattr(user, field, value)
    if not changes:
        return user
    user.save()
    action = "user.update"
    if "role" in changes:
        action = "user.role_change"
    details = {"username": user.username, "changes": changes}
    if changes.get("is_active") == [True, False]:
        action = "user.deactivate"
        details["sessions_ended"] = user_sessions_end(user=user)
    account_audit(actor=actor, action=action, target=user, request=request, details=details)
    return user


@transaction.atomic
def user_set_own_time_zone(*, user, time_zone, request=None):
    if user.time_zone != time_zone:
        account_audit(actor=user, action="user.time_zone", target=user, request=request,
                  details={"time_zone": [user.time_zone, time_zone]})
        user.time_zone = time_zone
        user.save(update_fields=["time_zone"])


def user_sessions_end(*, user, keep_session_key=None):
    """Delete every live session of `user` except `keep_session_key`; return how many ended.

    Sessions are in the database (Django's default engine); decoding each live
    one is fine at the scale of an MSP's staff."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.session_key != keep_session_key and session.get_decoded().get(SESSION_KEY) == str(user.pk):
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def user_password_change_own(*, user, password, request):
    """The user changed their own password (the form checked the current one):
    every other session of theirs ends; this one stays signed in."""
    user.set_password(password)
    user.save(update_fields=["password"])
    ended = user_sessions_end(user=user, keep_session_key=request.session.session_key)
    account_audit(actor=user, action="user.password_change", target=user, request=request,
              details={"username": user.username, "sessions_ended": ended})


@transaction.atomic
def user_password_set(*, actor, user, password, request=None):
    """An admin sets another user's password: all of that user's sessions end."""
    if actor.pk == user.pk:
        raise PermissionDenied("Change your own password on your account page.")
    user.set_password(password)
    user.save(update_fields=["password"])
    ended = user_sessions_end(user=user)
    account_audit(actor=actor, action="user.password_set", target=user, request=request,
              details={"username": user.username, "sessions_ended": ended})


def login_attempt(request, form):
    """Check the throttles, then the password; count and audit failures.

    Returns (signed-in user or None, refused): refused means the password was
    never checked (throttled or impossible name), so the form has no errors."""
    raw = request.POST.get("username", "")
    address = client_ip(request)
    if not login_throttle.username_acceptable(raw):
        # No account can have this name (NUL, control characters, over-long):
        # refused before auditing, but it still counts against the address.
        login_throttle.address_failure_record(address=address)
        return None, True
    if login_throttle.address_locked(address=address):
        return None, True
    username = login_throttle.username_canonical(raw)
    account = User.objects.filter(username__iexact=username).only("pk").first()
    account_id = account.pk if account else None
    if login_throttle.login_locked(username=username, user_id=account_id):
        login_throttle.login_failure_record(username=username, user_id=account_id, address=address)
        return None, True
    if form.is_valid():
        user = form.get_user()
        failures = login_throttle.login_failure_count(username=username, user_id=user.pk)
        auth_login(request, user)
        login_throttle.login_failures_clear(username=username, user_id=user.pk)
        account_audit(actor=user, action="auth.login", target=user, request=request,
                  details={"failures_before": failures} if failures else None)
        return user, False
    login_failure_audit(request, username=username, typed=raw, account=account, address=address)
    return None, False


def login_failure_audit(request, *, username, typed, account, address):
    """One audit row for the first failure of a window, one when the name is locked,
    one when the address is: repeated guessing cannot flood the log."""
    count = login_throttle.login_failure_record(username=username, user_id=account.pk if account else None, address=address)
    details = {"username": username, "count": count, "window_minutes": login_throttle.WINDOW_SECONDS // 60}
    if typed.strip() != username:
        details["typed"] = typed.strip()
    if count == 1:
        account_audit(actor=None, action="auth.login_failed", target=account, request=request, details=details)
    elif count == login_throttle.MAX_FAILURES:
        account_audit(actor=None, action="auth.login_locked", target=account, request=request, details=details)
    if login_throttle.address_locked(address=address) and not login_throttle.address_lock_reported(address=address):
        account_audit(actor=None, action="auth.address_throttled", request=request,
                  details={"failures": login_throttle.ADDRESS_MAX_FAILURES,
                           "window_minutes": login_throttle.WINDOW_SECONDS // 60})


def logout(request):
    if request.user.is_authenticated:
        account_audit(actor=request.user, action="auth.logout", target=request.user, request=request)
    auth_logout(request)
