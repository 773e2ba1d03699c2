"""After login: remind users whose password is older than the configured age to change it."""

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from .passwords import password_age_days, password_change_due


@receiver(user_logged_in)
def _remind_password_age(sender, request, user, **kwargs):
    if request is not None and password_change_due(user):
        text = _("Your password is %(days)d days old. Please change it.") % {"days": password_age_days(user)}
        messages.warning(request, format_html('{} <a href="{}">{}</a>', text, reverse("accounts:password_change"),
                                              _("Change password")), fail_silently=True)
