"""Validators for Chinese resident ID numbers (GB 11643-1999) and phone numbers."""

import re
from datetime import date
from operator import mul

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_ID_FORMAT = re.compile(r"\d{17}[\dX]")
_PHONE_NOISE = re.compile(r"[\s()]")


def id_check_digit(first17: str) -> str:
    return _CHECK[sum(map(mul, map(int, first17), _WEIGHTS)) % 11]


def birth_date_from_id(value: str) -> date:
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def normalise_id_number(value: str) -> str:
    return (value or "").strip().upper().replace(" ", "")


def validate_id_number(value: str) -> date:
    """Raise ValidationError unless a valid ID number; returns the birth date it holds."""
    value = normalise_id_number(value)
    if not _ID_FORMAT.fullmatch(value):
        raise ValidationError(_("ID number must be 18 characters: 17 digits and a digit or X."), code="id_format")
    try:
        born = birth_date_from_id(value)
    except ValueError:
        raise ValidationError(_("ID number contains an invalid birth date."), code="id_birth") from None
    if born > date.today() or born.year < 1900:
        raise ValidationError(_("ID number contains an invalid birth date."), code="id_birth")
    if id_check_digit(value[:17]) != value[17]:
        raise ValidationError(_("ID number check digit is wrong; please check the number."), code="id_check")
    return born


def normalise_phone(value: str) -> str:
    value = _PHONE_NOISE.sub("", value or "")
    return value[3:] if value.startswith("+86") else value


def validate_phone(value: str) -> None:
    value = normalise_phone(value)
    if not (_MOBILE.match(value) or _LANDLINE.match(value)):
        raise ValidationError(_("Phone number must be an 11-digit mobile number or a landline with area code."), code="phone")
