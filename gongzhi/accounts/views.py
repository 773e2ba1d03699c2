"""Login, the second-factor step (enrol or verify a TOTP code), password change, logout; lockout is django-axes' job."""

import django_otp
from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from gongzhi.core.forms import show_errors

from . import otp, services
from .forms import LoginForm, OtpForm, PasswordChangeForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def _next(request):
    target = request.POST.get("next") or request.GET.get("next") or "/"
    return target if url_has_allowed_host_and_scheme(target, {request.get_host()}) else "/"


@login_required
def otp_step(request):
    """After the password: staff who need a second factor enrol an authenticator app once, then give its code."""
    user = request.user
    if not user.needs_otp or user.is_verified():
        return redirect(_next(request))
    if AxesProxyHandler.is_locked(request, credentials={"username": user.get_username()}):
        logout(request)  # wrong codes count like wrong passwords: locked until the cool-off has passed
        return render(request, "accounts/locked.html", status=429)
    enrolling = otp.confirmed_device(user) is None
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.verify_otp(user, form.cleaned_data["otp"], enrolling=enrolling)
        except ValidationError as exc:
            otp.report_failure(request, user)
            show_errors(form, exc)
        else:
            django_otp.login(request, device)
            if enrolling:
                messages.success(request, _("Your authenticator app is set up. Each login will ask for its code."))
            return redirect(_next(request))
    context = {"form": form, "enrolling": enrolling, "next": _next(request)}
    if enrolling:
        device = otp.enrolment_device(user)
        context.update(qr=otp.qr_data_uri(device), secret=otp.secret_base32(device))
    return render(request, "accounts/otp.html", context)


@login_required
def password_change(request):
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_password(request.user, old_password=form.cleaned_data["old_password"],
                                     new_password=form.cleaned_data["new_password"])
        except ValidationError as exc:
            show_errors(form, exc)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password has been changed."))
            return redirect("core:home")
    return render(request, "accounts/password_change.html", {"form": form})
