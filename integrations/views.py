from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from audit.log import audit_log
from vectis.access import require_role
from vectis.models import Role

from .connection import connection_get, connection_record_test, connection_save
from .diagnostics import connection_test
from .forms import ConnectionForm
from .m365 import secrets
from .status import integrations_status


@require_role(Role.ADMIN)
def integrations_index(request):
    return render(request, "integrations/index.html", integrations_status())


@require_role(Role.ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def m365_configure(request):
    connection = connection_get()
    initial = {}
    if connection is not None:
        initial = {"tenant_id": connection.tenant_id, "client_id": connection.client_id,
                   "mailboxes": ", ".join(connection.mailboxes), "secret_expires_on": connection.secret_expires_on}
    form = ConnectionForm(request.POST or None, connection=connection, initial=initial)
    report = None
    action = request.POST.get("action", "save")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if action == "test":
            report = _run_test(request, connection, data)
        else:
            connection = connection_save(actor=request.user, request=request, **data)
            messages.success(request, "Saved. Start the initial sync when you're ready.")
            return redirect("integrations:index")
    template = "integrations/_test_result.html" if (request.htmx and action == "test") else "integrations/configure.html"
    return render(request, template, {"form": form, "connection": connection, "report": report})


def _run_test(request, connection, data):
    secret = data["client_secret"] or secrets.decrypt(connection.client_secret_encrypted)
    report = connection_test(tenant_id=data["tenant_id"], client_id=data["client_id"], client_secret=secret,
                             mailboxes=data["mailboxes"])
    audit_log(actor=request.user, action="m365.test", request=request, target=connection,
              details={"ok": report.ok, "headline": report.headline, "request_id": report.request_id,
                       "tenant_id": data["tenant_id"], "client_id": data["client_id"],
                       "missing_permissions": report.missing,
                       "mailboxes": {m.upn: m.status for m in report.mailboxes}})
    saved_values = connection is not None and (connection.tenant_id, connection.client_id, list(connection.mailboxes)) == (
        data["tenant_id"], data["client_id"], data["mailboxes"]) and not data["client_secret"]
    if saved_values:
        connection_record_test(connection=connection, report=report)
    return report
