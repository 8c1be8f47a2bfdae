"""Template context every page needs: the navigation for the viewer's role,
and the warnings every admin page shows."""

from django.conf import settings

from accounts.models import Role
from integrations.setup.connection import secret_expiry_banners


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    context = {"is_admin": user.role == Role.ADMIN, "VECTIS_VERSION": settings.VECTIS_VERSION}
    if context["is_admin"]:
        context["admin_banners"] = secret_expiry_banners()
    return context
