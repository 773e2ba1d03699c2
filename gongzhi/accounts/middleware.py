"""Until a user who needs a second factor has given a TOTP code, every page sends them to the code step."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _


class OtpRequiredMiddleware:
    """Runs after django_otp's OTPMiddleware (which gives request.user.is_verified())."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.needs_otp and not user.is_verified():
            path = request.path_info
            otp_url = reverse("accounts:otp")
            open_paths = (otp_url, reverse("accounts:logout"), reverse("accounts:login"), reverse("api:issue_token"),
                          settings.STATIC_URL, "/i18n/", reverse("core:toggle_large"))
            if not path.startswith(open_paths):
                if path.startswith("/api/"):
                    return JsonResponse({"detail": _("Enter the one-time code from your authenticator app on the "
                                                     "website first, or use an API token.")}, status=401)
                return redirect_to_login(request.get_full_path(), otp_url)
        return self.get_response(request)
