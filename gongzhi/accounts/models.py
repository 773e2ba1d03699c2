"""Users (staff by username, residents by phone), role assignments at places, and API tokens."""

import secrets

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from gongzhi.core.crypto import EncryptedCharField, lookup_hash

from .roles import OTP_ROLES, Role


class User(AbstractUser):
    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = EncryptedCharField(_("phone"), blank=True, null=True)
    # Residents log in with their phone number: the keyed hash finds the account without decrypting all.
    phone_hash = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    person = models.OneToOneField("registry.Person", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="user", verbose_name=_("person"))
    logged_in_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def save(self, *args, **kwargs):
        self.phone_hash = lookup_hash(self.phone)
        super().save(*args, **kwargs)

    def __str__(self):
        return self.full_name or self.username

    @cached_property
    def scope(self):
        from .scope import Scope
        return Scope.for_user(self)

    @property
    def needs_otp(self) -> bool:
        """Admin-site users and staff above grid worker must confirm a TOTP code after the password."""
        return self.is_staff or self.is_superuser or bool(self.scope.roles() & OTP_ROLES)


class RoleAssignment(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="roles", verbose_name=_("user"))
    role = models.CharField(_("role"), max_length=30, choices=Role.choices)
    place = models.ForeignKey("places.Place", on_delete=models.PROTECT, related_name="role_assignments",
                              verbose_name=_("place"))
    organisation = models.ForeignKey("registry.Organisation", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="role_assignments", verbose_name=_("organisation"))
    title = models.CharField(_("title"), max_length=50, blank=True)
    # Departments (police, city management, fire, utilities) name the unit a liaison belongs to.
    department = models.CharField(_("department"), max_length=50, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [models.UniqueConstraint(fields=["user", "role", "place"], name="role_once_per_place")]

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.place}"


class ApiToken(models.Model):
    """Bearer token for API clients; only its hash is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=50, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    @classmethod
    def issue(cls, user, name="", lifetime=None) -> str:
        key = secrets.token_urlsafe(32)
        cls.objects.create(user=user, name=name, key_hash=lookup_hash(key),
                           expires_at=timezone.now() + lifetime if lifetime else None)
        return key

    @classmethod
    def user_for(cls, key: str):
        token = cls.objects.select_related("user").filter(key_hash=lookup_hash(key)).first()
        if token is None or not token.user.is_active or (token.expires_at and token.expires_at < timezone.now()):
            return None
        return token.user


class PasswordHistory(models.Model):
    """Hashes of a user's recent passwords, so an old one cannot be reused; the newest row dates the current one."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
