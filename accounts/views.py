from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.paginator import Paginator
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from audit.log import audit_log, client_ip

from . import login_throttle, services
from .access import public, require_role
from .forms import AdminPasswordSetForm, OwnTimeZoneForm, UserCreateForm, UserEditForm
from .models import Role, User


@public
@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def login_view(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        next_url = ""
    form = AuthenticationForm(request, data=request.POST or None)
    refused = False
    if request.method == "POST":
        user, refused = login_attempt(request, form)
        if user is not None:
            return redirect(next_url or "customers:list")
    # A locked or refused sign-in reads exactly like a wrong password.
    return render(request, "registration/login.html", {"form": form, "next": next_url, "refused": refused})


def login_attempt(request, form):
    """Check the throttles, then the password; count and audit failures.

    Returns (signed-in user or None, refused): refused means the password was
    never checked (throttled or impossible name), so the form has no errors."""
    raw = request.POST.get("username", "")
    address = client_ip(request)
    if not login_throttle.username_acceptable(raw):
        # No account can have this name (NUL, control characters, over-long):
        # refused before auditing, but it still counts against the address.
        login_throttle.address_failure_record(address=address)
        return None, True
    if login_throttle.address_locked(address=address):
        return None, True
    username = login_throttle.username_canonical(raw)
    account = User.objects.filter(username__iexact=username).only("pk").first()
    account_id = account.pk if account else None
    if login_throttle.login_locked(username=username, user_id=account_id):
        login_throttle.login_failure_record(username=username, user_id=account_id, address=address)
        return None, True
    if form.is_valid():
        user = form.get_user()
        failures = login_throttle.login_failure_count(username=username, user_id=user.pk)
        auth_login(request, user)
        login_throttle.login_failures_clear(username=username, user_id=user.pk)
        audit_log(actor=user, action="auth.login", target=user, request=request,
                  details={"failures_before": failures} if failures else None)
        return user, False
    login_failure_audit(request, username=username, typed=raw, account=account, address=address)
    return None, False


def login_failure_audit(request, *, username, typed, account, address):
    """One audit row for the first failure of a window, one when the name is locked,
    one when the address is: repeated guessing cannot flood the log."""
    count = login_throttle.login_failure_record(username=username, user_id=account.pk if account else None, address=address)
    details = {"username": username, "count": count, "window_minutes": login_throttle.WINDOW_SECONDS // 60}
    if typed.strip() != username:
        details["typed"] = typed.strip()
    if count == 1:
        audit_log(actor=None, action="auth.login_failed", target=account, request=request, details=details)
    elif count == login_throttle.MAX_FAILURES:
        audit_log(actor=None, action="auth.login_locked", target=account, request=request, details=details)
    if login_throttle.address_locked(address=address) and not login_throttle.address_lock_reported(address=address):
        audit_log(actor=None, action="auth.address_throttled", request=request,
                  details={"failures": login_throttle.ADDRESS_MAX_FAILURES,
                           "window_minutes": login_throttle.WINDOW_SECONDS // 60})


@public
@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        audit_log(actor=request.user, action="auth.logout", target=request.user, request=request)
    auth_logout(request)
    return redirect("login")


@public
def healthz(request):
    """For the load balancer and compose health checks: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_role()
def home(request):
    return redirect("customers:list")


@require_role()
@require_http_methods(["GET", "POST"])
def account(request):
    """A user's own settings: the display time zone and their password (never role or email)."""
    changing_password = request.method == "POST" and "old_password" in request.POST
    form = OwnTimeZoneForm(None if changing_password else request.POST or None,
                           initial={"time_zone": request.user.time_zone})
    password_form = PasswordChangeForm(request.user, request.POST if changing_password else None)
    if changing_password and password_form.is_valid():
        services.user_password_change_own(user=request.user, password=password_form.cleaned_data["new_password1"],
                                          request=request)
        update_session_auth_hash(request, request.user)
        messages.success(request, "Password changed. Your other sessions were signed out.")
        return redirect("account")
    if request.method == "POST" and not changing_password and form.is_valid():
        services.user_set_own_time_zone(user=request.user, time_zone=form.cleaned_data["time_zone"], request=request)
        messages.success(request, "Saved.")
        return redirect("account")
    return render(request, "account.html", {"form": form, "password_form": password_form})


@require_role(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def user_list(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.user_create(actor=request.user, request=request, **form.cleaned_data)
        messages.success(request, f"Created {user.username} ({user.get_role_display()}).")
        return redirect("users")
    page = Paginator(User.objects.all(), 50).get_page(request.GET.get("page"))
    return render(request, "users/list.html", {"page": page, "form": form})


@require_role(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def user_edit(request, user_id):
    user = get_object_or_404(User, pk=user_id)
    if user.pk == request.user.pk:
        messages.error(request, "You cannot change your own role or email. Ask another admin.")
        return redirect("users")
    form = _user_edit_form(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_update(actor=request.user, user=user, request=request, **form.cleaned_data)
        messages.success(request, f"Saved {user.username}.")
        return redirect("users")
    return render(request, "users/edit.html", {"form": form, "password_form": AdminPasswordSetForm(user), "subject": user})


def _user_edit_form(user, data=None):
    initial = {"work_email": user.work_email, "role": user.role, "is_active": user.is_active, "time_zone": user.time_zone}
    return UserEditForm(data, user=user, initial=initial)


@require_role(Role.ADMIN)
@require_POST
def user_password(request, user_id):
    """An admin sets a new password for another user (who is then signed out everywhere)."""
    user = get_object_or_404(User, pk=user_id)
    if user.pk == request.user.pk:
        messages.error(request, "Change your own password on your account page.")
        return redirect("account")
    password_form = AdminPasswordSetForm(user, request.POST)
    if password_form.is_valid():
        services.user_password_set(actor=request.user, user=user, password=password_form.cleaned_data["new_password1"],
                                   request=request)
        messages.success(request, f"New password set for {user.username}; their sessions were signed out.")
        return redirect("user_edit", user_id=user.pk)
    return render(request, "users/edit.html", {"form": _user_edit_form(user), "password_form": password_form,
                                               "subject": user}, status=400)
