"""The two pages that belong to the site rather than to an app."""

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect

from accounts.access import public, require_role


@public
def healthz(request):
    """For the load balancer and compose health checks: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_role()
def home(request):
    return redirect("customers:list")
