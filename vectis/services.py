"""User writes. Each writes its audit row; none lets a user change their own role or email."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

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
    if changes.get("is_active") == [True, False]:
        action = "user.deactivate"
    audit_log(actor=actor, action=action, target=user, request=request,
              details={"username": user.username, "changes": changes})
    return user


def user_set_own_time_zone(*, user, time_zone, request=None):
    if user.time_zone != time_zone:
        audit_log(actor=user, action="user.time_zone", target=user, request=request,
                  details={"time_zone": [user.time_zone, time_zone]})
        user.time_zone = time_zone
        user.save(update_fields=["time_zone"])
