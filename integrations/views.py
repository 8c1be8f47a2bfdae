from django.shortcuts import render

from vectis.access import require_role
from vectis.models import Role


@require_role(Role.ADMIN)
def integrations_index(request):
    return render(request, "integrations/index.html", {})
