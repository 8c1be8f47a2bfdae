from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import require_role
from accounts.models import Role

from .posture.tenant_views import consent_redirect_uri
from .setup import secrets
from .setup.connection import admin_own_domains, connection_get
from .setup.diagnostics import REQUIRED_PERMISSIONS, TestReport, connection_test
from .setup.forms import ConnectionForm
from .setup.services import connection_save, connection_test_record
from .status import integrations_status, mailbox_health
from .sync_services import mailbox_resync_start, posture_sync_start_action, sync_start_action


@require_role(Role.ADMIN)
def integrations_index(request):
    return render(request, "integrations/index.html", integrations_status())


@require_role(Role.ADMIN)
@never_cache
def sync_progress(request):
    """The mailbox table alone, polled by htmx while a sync is running."""
    return render(request, "integrations/_mailboxes.html", integrations_status())


@require_role(Role.ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def m365_configure(request):
    connection = connection_get()
    initial = {}
    if connection is not None:
        initial = {"tenant_id": connection.tenant_id, "client_id": connection.client_id,
                   "mailboxes": "\n".join(connection.mailboxes), "secret_expires_on": connection.secret_expires_on,
                   "own_domains": "\n".join(admin_own_domains())}
    form = ConnectionForm(request.POST or None, connection=connection, initial=initial)
    report = None
    action = request.POST.get("action", "save")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if action == "test" and not data["client_secret"] and not _stored_secret_readable(connection):
            form.add_error("client_secret", "The stored secret cannot be decrypted with the configured keys "
                                            "(VECTIS_ENCRYPTION_KEYS): paste the secret Value again.")
        elif action == "test":
            report = _run_test(request, connection, data)
        else:
            connection = connection_save(actor=request.user, request=request, tested=_test_of_these_values(request, data),
                                         **data)
            messages.success(request, "Saved. Start the initial sync when you're ready.")
            return redirect("integrations:index")
    template = "integrations/_test_result.html" if (request.htmx and action == "test") else "integrations/configure.html"
    return render(request, template, {"form": form, "connection": connection, "report": report,
                                      "save_failed": request.method == "POST" and action == "save",
                                      "required_permissions": REQUIRED_PERMISSIONS.items(),
                                      "consent_redirect_uri": consent_redirect_uri(request)})


def _stored_secret_readable(connection):
    try:
        secrets.decrypt(connection.client_secret_encrypted)
    except secrets.SecretDecryptionError:
        return False
    return True


def _run_test(request, connection, data):
    secret = data["client_secret"] or secrets.decrypt(connection.client_secret_encrypted)
    report = connection_test(tenant_id=data["tenant_id"], client_id=data["client_id"], client_secret=secret,
                             mailboxes=data["mailboxes"])
    saved_values = connection is not None and (connection.tenant_id, connection.client_id, list(connection.mailboxes)) == (
        data["tenant_id"], data["client_id"], data["mailboxes"]) and not data["client_secret"]
    connection_test_record(actor=request.user, connection=connection, data=data, report=report,
                           of_saved_values=saved_values, request=request)
    if report.ok and not saved_values:
        # Usually the values typed in before the first Save: remember that they
        # passed, so saving exactly these values records the test (tenant name,
        # verified domains, permissions) instead of reading "not tested".
        request.session[TESTED_SESSION_KEY] = {
            "values": _values_fingerprint(data), "tenant_name": report.tenant_name,
            "verified_domains": list(report.verified_domains), "granted": sorted(report.granted),
            "headline": report.headline,
        }
    elif not saved_values:
        request.session.pop(TESTED_SESSION_KEY, None)
    return report


TESTED_SESSION_KEY = "m365_tested_values"


def _values_fingerprint(data):
    """Which values a Test checked. The secret enters only through an HMAC (keyed with SECRET_KEY)."""
    raw = "\n".join([data["tenant_id"], data["client_id"], ",".join(data["mailboxes"]), data["client_secret"] or ""])
    return salted_hmac("vectis.integrations.tested-values", raw).hexdigest()


def _test_of_these_values(request, data):
    """The passed Test of exactly these values before Save, if there was one (it is then recorded with them)."""
    tested = request.session.pop(TESTED_SESSION_KEY, None)
    if not tested or not constant_time_compare(tested.get("values", ""), _values_fingerprint(data)):
        return None
    return TestReport(ok=True, headline=tested["headline"], tenant_name=tested["tenant_name"],
                      verified_domains=tested["verified_domains"], granted=set(tested["granted"]))


@require_role(Role.ADMIN)
@require_POST
def sync_start(request):
    connection = connection_get()
    if connection is None:
        raise Http404("Microsoft 365 is not configured")
    busy = sync_start_action(actor=request.user, connection=connection, request=request)
    # Without a broker the tasks ran inside this request: say "finished", not "started".
    state = "finished" if mailbox_health(connection)["sync_request"]["finished"] else "started"
    if busy:
        messages.success(request, f"Sync {state}: mail and calendars for each technician mailbox.")
        messages.warning(request, busy)
    else:
        messages.success(request, f"Sync {state}: mail and calendars for each technician mailbox, then the security posture.")
    return redirect("integrations:index")


@require_role(Role.ADMIN)
@require_POST
def mailbox_resync(request):
    connection = connection_get()
    upn = request.POST.get("upn", "").strip().lower()
    if connection is None or upn not in connection.mailboxes:
        raise Http404("Not an allowed mailbox")
    mailbox_resync_start(actor=request.user, upn=upn, request=request)
    messages.success(request, f"Full resync of {upn} started.")
    return redirect("integrations:index")


@require_role(Role.ADMIN)
@require_POST
def posture_sync_start(request):
    connection = connection_get()
    if connection is None:
        raise Http404("Microsoft 365 is not configured")
    busy = posture_sync_start_action(actor=request.user, connection=connection, request=request)
    if busy:
        messages.warning(request, busy)
    else:
        messages.success(request, "Security posture sync started.")
    return redirect("integrations:index")
