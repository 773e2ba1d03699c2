"""ID and phone number validation and masking, as a community worker would meet them."""

import pytest
from django.core.exceptions import ValidationError

from gongzhi.core.crypto import mask_id_number, mask_phone
from gongzhi.core.testing import valid_id
from gongzhi.core.validators import validate_id_number, validate_phone


def test_valid_id_number_passes():
    validate_id_number("11010519491231002X")  # the standard's own example
    validate_id_number(valid_id())


@pytest.mark.parametrize("number,code", [
    ("110105194912310021", "id_check"),   # wrong check digit
    ("11010519491331002X", "id_birth"),   # month 13
    ("1101051949123100", "id_format"),    # too short
    ("110105299912310028", "id_birth"),   # born in the future
])
def test_bad_id_numbers_are_rejected_with_reason(number, code):
    with pytest.raises(ValidationError) as exc:
        validate_id_number(number)
    assert exc.value.code == code


def test_phone_numbers():
    validate_phone("13912345678")
    validate_phone("027-87654321")
    with pytest.raises(ValidationError):
        validate_phone("12345")
    with pytest.raises(ValidationError):
        validate_phone("10012345678")


def test_masking():
    assert mask_id_number("11010519491231002X") == "1101**********002X"
    assert mask_phone("13912345678") == "139****5678"
