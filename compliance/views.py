from django.shortcuts import render

from vectis.access import require_role


@require_role()
def compliance_index(request):
    return render(request, "compliance/index.html", {})
