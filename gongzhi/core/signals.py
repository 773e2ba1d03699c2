"""Security events from elsewhere into the audit trail: logins and failures, lockouts, role changes, API tokens."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from gongzhi.accounts.models import ApiToken, RoleAssignment

from . import audit
from .models import AuditEvent

Action, Outcome = AuditEvent.Action, AuditEvent.Outcome


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    user.logged_in_at = timezone.now()
    user.save(update_fields=["logged_in_at"])
    if request is not None and hasattr(request, "session"):
        request.session["gz_login_at"] = timezone.now().timestamp()
    audit.record(Action.LOGIN, request=request, user=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record(Action.LOGOUT, request=request, user=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    audit.record(Action.LOGIN_FAILED, request=request, username=str(credentials.get("username", "")),
                 outcome=Outcome.FAILURE)


@receiver(user_locked_out)
def _locked_out(sender, request, username, ip_address, **kwargs):
    audit.record(Action.LOCKED_OUT, request=request, username=str(username or ""), outcome=Outcome.DENIED,
                 detail=f"locked out after repeated failures from {ip_address}")


@receiver(post_save, sender=ApiToken)
def _token_issued(sender, instance, created, **kwargs):
    if created:
        audit.record(Action.LOGIN, user=instance.user, obj=instance, detail="API token issued")


def _role_change(assignment, what):
    # The acting user comes from the request being served (admin, pages, API); none for commands.
    audit.record(Action.ROLE_CHANGE, obj=assignment,
                 detail=f"{what}: {assignment.user_id}:{assignment.user.get_username()} {assignment.role} "
                        f"at {assignment.place_id} active={assignment.active}")


@receiver(post_save, sender=RoleAssignment)
def _role_saved(sender, instance, created, raw=False, **kwargs):
    if not raw:
        _role_change(instance, "granted" if created else "changed")


@receiver(post_delete, sender=RoleAssignment)
def _role_deleted(sender, instance, **kwargs):
    _role_change(instance, "revoked")
