"""Password rules for AUTH_PASSWORD_VALIDATORS (等保 8.1.4.1): character classes, no reuse, and the password's age."""

import string

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

# Django 5.2 changed its minimum-length message and its Chinese catalog lacks the new one: translated in ours.
DJANGO_TOO_SHORT = ngettext_lazy("This password is too short. It must contain at least %d character.",
                                 "This password is too short. It must contain at least %d characters.", "n")

CLASSES = (str.islower, str.isupper, str.isdigit, lambda c: c in string.punctuation or c == " ")


class CharacterClassesValidator:
    """At least `min_classes` of: lower-case letters, upper-case letters, digits, symbols."""

    def __init__(self, min_classes=3):
        self.min_classes = min_classes

    def validate(self, password, user=None):
        found = sum(any(test(c) for c in password) for test in CLASSES)
        if found < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self):
        return _("Your password must mix at least %(n)d of: lower-case letters, upper-case letters, digits, "
                 "symbols.") % {"n": self.min_classes}


class PasswordHistoryValidator:
    """Refuse the current password and the last `history` ones; remember each new password's hash."""

    def __init__(self, history=5):
        self.history = history

    def validate(self, password, user=None):
        if user is None or user.pk is None:
            return
        from .models import PasswordHistory
        recent = set(PasswordHistory.objects.filter(user=user).values_list("password", flat=True)[:self.history])
        recent.add(user.password)  # accounts older than the history table
        if any(check_password(password, encoded) for encoded in recent if encoded):
            raise ValidationError(self.get_help_text(), code="password_reused")

    def password_changed(self, password, user=None):
        # Called by User.save() after set_password(): user.password is the new hash.
        from .models import PasswordHistory
        PasswordHistory.objects.create(user=user, password=user.password)
        stale = PasswordHistory.objects.filter(user=user).values_list("pk", flat=True)[self.history:]
        PasswordHistory.objects.filter(pk__in=list(stale)).delete()

    def get_help_text(self):
        return ngettext("Your password must differ from your last password.",
                        "Your password must differ from your last %(n)d passwords.", self.history) % {"n": self.history}


def password_age_days(user) -> int:
    """Days since the current password was set (or since the account was created, for older accounts)."""
    latest = user.password_history.values_list("created_at", flat=True).first()
    return (timezone.now() - (latest or user.date_joined)).days


def password_change_due(user) -> bool:
    max_age = settings.GONGZHI_PASSWORD_MAX_AGE_DAYS
    return bool(max_age) and user.has_usable_password() and password_age_days(user) >= max_age
