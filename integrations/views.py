from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from audit.log import audit_log
from vectis.access import require_role
from vectis.models import Role

from . import tasks
from .connection import admin_own_domains, connection_get, connection_record_test, connection_save
from .diagnostics import TestReport, connection_test
from .forms import ConnectionForm
from .m365 import secrets
from .m365.posture_sync import posture_in_progress
from .status import integrations_status
from .tenant_views import consent_redirect_uri


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
            connection = connection_save(actor=request.user, request=request, **data)
            _record_test_of_saved_values(request, connection, data)
            messages.success(request, "Saved. Start the initial sync when you're ready.")
            return redirect("integrations:index")
    template = "integrations/_test_result.html" if (request.htmx and action == "test") else "integrations/configure.html"
    return render(request, template, {"form": form, "connection": connection, "report": report,
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
    audit_log(actor=request.user, action="m365.test", request=request, target=connection,
              details={"ok": report.ok, "headline": report.headline, "request_id": report.request_id,
                       "tenant_id": data["tenant_id"], "client_id": data["client_id"],
                       "missing_permissions": report.missing,
                       "mailboxes": {m.upn: m.status for m in report.mailboxes}})
    saved_values = connection is not None and (connection.tenant_id, connection.client_id, list(connection.mailboxes)) == (
        data["tenant_id"], data["client_id"], data["mailboxes"]) and not data["client_secret"]
    if saved_values:
        connection_record_test(connection=connection, report=report)
    elif report.ok:
        # Usually the values typed in before the first Save: remember that they
        # passed, so saving exactly these values records the test (tenant name,
        # verified domains, permissions) instead of reading "not tested".
        request.session[TESTED_SESSION_KEY] = {
            "values": _values_fingerprint(data), "tenant_name": report.tenant_name,
            "verified_domains": list(report.verified_domains), "granted": sorted(report.granted),
            "headline": report.headline,
        }
    else:
        request.session.pop(TESTED_SESSION_KEY, None)
    return report


TESTED_SESSION_KEY = "m365_tested_values"


def _values_fingerprint(data):
    """Which values a Test checked. The secret enters only through an HMAC (keyed with SECRET_KEY)."""
    raw = "\n".join([data["tenant_id"], data["client_id"], ",".join(data["mailboxes"]), data["client_secret"] or ""])
    return salted_hmac("vectis.integrations.tested-values", raw).hexdigest()


def _record_test_of_saved_values(request, connection, data):
    tested = request.session.pop(TESTED_SESSION_KEY, None)
    if not tested or not constant_time_compare(tested.get("values", ""), _values_fingerprint(data)):
        return
    report = TestReport(ok=True, headline=tested["headline"], tenant_name=tested["tenant_name"],
                        verified_domains=tested["verified_domains"], granted=set(tested["granted"]))
    connection_record_test(connection=connection, report=report)


@require_role(Role.ADMIN)
@require_POST
def sync_start(request):
    connection = connection_get()
    if connection is None:
        raise Http404("Microsoft 365 is not configured")
    initial = connection.initial_sync_requested_at is None
    connection.initial_sync_requested_at = timezone.now()
    connection.save(update_fields=["initial_sync_requested_at", "updated_at"])
    audit_log(actor=request.user, action="m365.sync_start", target=connection, request=request,
              details={"initial": initial, "mailboxes": list(connection.mailboxes)})
    transaction.on_commit(lambda: tasks.sync_all_mailboxes.delay(full=False, reason="initial" if initial else "manual"))
    busy = _posture_start()
    if busy:
        messages.success(request, "Sync started: mail and calendars for each technician mailbox.")
        messages.warning(request, busy)
    else:
        messages.success(request, "Sync started: mail and calendars for each technician mailbox, then the security posture.")
    return redirect("integrations:index")


def _posture_start():
    """Queue a posture collection. When one is in progress, say so instead
    (since when, and when a dead one is taken over) and queue the request for
    that moment, so a dead run is taken over without anyone pressing again."""
    running = posture_in_progress()
    if running is None:
        transaction.on_commit(lambda: tasks.sync_posture.delay())
        return ""
    countdown = running["takeover_in"] + 1
    transaction.on_commit(lambda: tasks.sync_posture.apply_async(countdown=countdown))
    return (f"Security posture not started: a collection has been running since {running['since']:%Y-%m-%d %H:%M} UTC "
            f"(last heard from at {running['heartbeat']:%H:%M:%S} UTC) and is left to finish. If its worker has stopped, "
            f"it is taken over at {running['takeover_at']:%H:%M:%S} UTC and the collection runs then.")


@require_role(Role.ADMIN)
@require_POST
def mailbox_resync(request):
    connection = connection_get()
    upn = request.POST.get("upn", "").strip().lower()
    if connection is None or upn not in connection.mailboxes:
        raise Http404("Not an allowed mailbox")
    audit_log(actor=request.user, action="m365.mailbox_resync", target_type="mailbox", target_id=upn, request=request)
    transaction.on_commit(lambda: tasks.sync_mailbox.delay(upn, full=True, reason="manual"))
    messages.success(request, f"Full resync of {upn} started.")
    return redirect("integrations:index")


@require_role(Role.ADMIN)
@require_POST
def posture_sync_start(request):
    connection = connection_get()
    if connection is None:
        raise Http404("Microsoft 365 is not configured")
    busy = _posture_start()
    audit_log(actor=request.user, action="m365.posture_sync_start", target=connection, request=request,
              details={"busy": bool(busy)})
    if busy:
        messages.warning(request, busy)
    else:
        messages.success(request, "Security posture sync started.")
    return redirect("integrations:index")
