"""Accounts: creating them, granting roles, the owner's password change and the second-factor check."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from gongzhi.core.validators import normalise_phone, validate_phone

from . import otp
from .models import RoleAssignment, User
from .roles import Role


@transaction.atomic
def create_user(*, username, password, full_name="", phone="", role=None, place=None, department="") -> User:
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": _("This username is taken.")})
    if phone:
        phone = normalise_phone(phone)
        validate_phone(phone)
    user = User(username=username, full_name=full_name, phone=phone or None)
    validate_password(password, user)
    user.set_password(password)
    user.save()
    if role:
        grant_role(user, role, place, department=department)
    return user


def grant_role(user, role, place, department="") -> RoleAssignment:
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role: %(role)s") % {"role": role}})
    if place is None:
        raise ValidationError({"place": _("A role is held at a place.")})
    assignment, _created = RoleAssignment.objects.update_or_create(
        user=user, role=role, place=place, defaults={"active": True, "department": department})
    return assignment


def change_password(user, *, old_password, new_password) -> None:
    """The user's own password change: the old one must be right and the new one pass every password rule."""
    if not user.check_password(old_password or ""):
        raise ValidationError({"old_password": _("Your current password is not correct.")})
    try:
        validate_password(new_password or "", user)
    except ValidationError as exc:
        raise ValidationError({"new_password": exc.messages}) from exc
    with transaction.atomic():
        user.set_password(new_password)
        user.save()


def verify_otp(user, code, *, enrolling=False):
    """Check a code from the user's authenticator app; on first use this confirms the enrolled device.
    Returns the device that accepted it; raises ValidationError otherwise (django-otp slows repeated failures)."""
    device = otp.enrolment_device(user) if enrolling else otp.confirmed_device(user)
    if device is None:
        raise ValidationError({"otp": _("Set up your authenticator app first by logging in on the website.")})
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit() or not device.verify_token(code):
        raise ValidationError({"otp": _("The code is wrong or has expired. Enter the 6-digit code your "
                                        "authenticator app shows now.")})
    if enrolling:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    return device
