from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from . import services
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
        user, refused = services.login_attempt(request, form)
        if user is not None:
            return redirect(next_url or "customers:list")
    # A locked or refused sign-in reads exactly like a wrong password.
    return render(request, "registration/login.html", {"form": form, "next": next_url, "refused": refused})


@public
@require_POST
def logout_view(request):
    services.logout(request)
    return redirect("login")


@require_role()
@require_http_methods(["GET", "POST"])
def account(request):
    """A user's own settings: the display time zone and their password (never role or email)."""
    changing_password = request.method == "POST" and "old_password" in request.POST
    form = OwnTimeZoneForm(None if changing_password else request.POST or None,
                           initial={"time_zone": request.user.time_zone}, current=request.user.time_zone)
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
