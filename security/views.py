from django.shortcuts import render

from vectis.access import require_role


@require_role()
def security_rollup(request):
    return render(request, "security/rollup.html", {})
