"""The one server-side way to guard a view, plus the viewer's time zone.

Every view in the project is wrapped in exactly one of `require_role(...)`
or `public`; tests/accounts/test_role_matrix.py walks the URL patterns and fails on a
view that has neither, so a new page cannot forget its check.
"""

import functools
import zoneinfo

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from .models import Role

ALL_ROLES = (Role.ADMIN, Role.MEMBER, Role.VIEWER)


def require_role(*roles):
    """Allow only signed-in, active users whose role is in `roles`.

    Anonymous users go to the login page; signed-in users with another role
    get 403. Called with no roles it means "any signed-in user".
    """
    allowed = frozenset(roles or ALL_ROLES)

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated or not user.is_active:
                return redirect_to_login(request.get_full_path())
            if user.role not in allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.vectis_roles = allowed
        return wrapper

    return decorator


def public(view):
    """Mark a view as reachable without signing in (login page, health check)."""
    view.vectis_roles = "public"
    return view


class UserTimeZoneMiddleware:
    """Show times in the viewer's own zone (stored times are always UTC)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone_name = getattr(getattr(request, "user", None), "time_zone", "") or ""
        if zone_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(zone_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
