"""Login, logout and failed-login events go to the audit log."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from . import audit
from .models import AuditEvent


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    user.logged_in_at = timezone.now()
    user.save(update_fields=["logged_in_at"])
    if request is not None and hasattr(request, "session"):
        request.session["gz_login_at"] = timezone.now().timestamp()
    audit.record(AuditEvent.Action.LOGIN, request=request, user=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record(AuditEvent.Action.LOGOUT, request=request, user=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    audit.record(AuditEvent.Action.LOGIN_FAILED, request=request, username=str(credentials.get("username", ""))[:150])
