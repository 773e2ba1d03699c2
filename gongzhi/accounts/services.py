"""Creating accounts and granting roles: the one path for both, used by the command line and the admin."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from gongzhi.core.validators import normalise_phone, validate_phone

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
