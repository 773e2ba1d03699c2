"""The audit trail: security events chained by a keyed hash, the chain head (the append lock) and archives."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One entry; `hash` is HMAC(key, prev_hash + canonical content), so an edit, deletion or insertion shows."""

    class Action(models.TextChoices):
        VIEW_PERSONAL = "view_personal", _("Viewed full personal record")
        EXPORT = "export", _("Export")
        IMPORT = "import", _("Import")
        LOGIN = "login", _("Login")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOCKED_OUT = "locked_out", _("Locked out")
        LOGOUT = "logout", _("Logout")
        DENIED = "denied", _("Permission denied")
        CHANGE = "change", _("Change")
        ROLE_CHANGE = "role_change", _("Role change")
        ANONYMISE = "anonymise", _("Anonymised personal record")
        BACKUP = "backup", _("Backup")
        RESTORE = "restore", _("Restore")
        ARCHIVE = "archive", _("Audit archive")

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        DENIED = "denied", _("Denied")

    seq = models.PositiveBigIntegerField(_("sequence"), unique=True, editable=False)
    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True, editable=False)
    # No database constraint: deleting a user must not rewrite (and so break) the chained entries.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                             db_constraint=False, related_name="+", verbose_name=_("user"))
    username = models.CharField(_("username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=200, blank=True)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    client_ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    prev_hash = models.CharField(max_length=64, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"#{self.seq} {self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action}"


class AuditHead(models.Model):
    """The single row every append locks (select_for_update) and moves forward: the last seq and hash."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)


class AuditArchive(models.Model):
    """A compressed JSON-lines file holding entries moved out of the table; the live chain starts at last_hash."""

    file = models.CharField(_("file"), max_length=200)
    first_seq = models.PositiveBigIntegerField(_("first entry"))
    last_seq = models.PositiveBigIntegerField(_("last entry"), unique=True)
    anchor_hash = models.CharField(max_length=64)  # hash of the entry before first_seq
    last_hash = models.CharField(max_length=64)
    count = models.PositiveIntegerField(_("entries"))
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("archived at"), default=timezone.now)
    mac = models.CharField(max_length=64)  # keyed hash over the fields above: a forged anchor shows

    class Meta:
        verbose_name = _("audit archive")
        verbose_name_plural = _("audit archives")
        ordering = ["last_seq"]

    def __str__(self):
        return self.file


class RateCounter(models.Model):
    """Requests counted in one rate-limit window for one rule and client address (core.ratelimit).
    UNLOGGED on PostgreSQL: counters need no crash safety, so counting costs no WAL flush."""

    key = models.CharField(max_length=200, primary_key=True)
    hits = models.PositiveIntegerField(default=0)
    expires = models.DateTimeField(db_index=True)
