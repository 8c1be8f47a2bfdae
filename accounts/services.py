"""User writes. Each writes its audit row; none lets a user change their own role or email."""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from audit.log import audit_log

from .models import User


@transaction.atomic
def user_create(*, actor, username, work_email, role, password, time_zone="", request=None):
    user = User.objects.create_user(username=username, email=work_email, password=password,
                                    work_email=work_email, role=role, time_zone=time_zone)
    audit_log(actor=actor, action="user.create", target=user, request=request,
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
    audit_log(actor=actor, action=action, target=user, request=request, details=details)
    return user


def user_set_own_time_zone(*, user, time_zone, request=None):
    if user.time_zone != time_zone:
        audit_log(actor=user, action="user.time_zone", target=user, request=request,
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
    audit_log(actor=user, action="user.password_change", target=user, request=request,
              details={"username": user.username, "sessions_ended": ended})


@transaction.atomic
def user_password_set(*, actor, user, password, request=None):
    """An admin sets another user's password: all of that user's sessions end."""
    if actor.pk == user.pk:
        raise PermissionDenied("Change your own password on your account page.")
    user.set_password(password)
    user.save(update_fields=["password"])
    ended = user_sessions_end(user=user)
    audit_log(actor=actor, action="user.password_set", target=user, request=request,
              details={"username": user.username, "sessions_ended": ended})
