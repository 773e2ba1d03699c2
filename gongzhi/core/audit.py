"""Writing security events; every caller goes through record()."""

from .models import AuditEvent


def client_ip(request):
    return request.META.get("REMOTE_ADDR") if request is not None else None


def record(action, *, request=None, user=None, obj=None, detail="", username=""):
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    return AuditEvent.objects.create(
        action=action, user=user, username=username or (user.get_username() if user else ""),
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail=detail[:500], client_ip=client_ip(request),
    )
