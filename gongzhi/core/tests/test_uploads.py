"""Uploaded images: whatever the name says, only a whole JPEG/PNG/GIF/WebP of sane size gets through."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from gongzhi.core.testing import image_upload
from gongzhi.core.uploads import clean_image


def _png(size):
    out = io.BytesIO()
    Image.new("1", size).save(out, "PNG")  # one bit per pixel: a tiny file that decodes to a huge image
    return out.getvalue()


@pytest.mark.parametrize("name, data, message", [
    ("photo.jpg", bytes(range(256)) * 20, "照片必须是"),                       # random bytes
    ("photo.jpg", image_upload().read()[:300], "照片必须是"),                 # a truncated JPEG
    ("photo.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "照片必须是"),  # SVG can carry script
    ("photo.png", _png((8000, 6000)), "照片必须是"),                          # 48 megapixels: a decompression bomb
    ("photo.jpg", b"\xff\xd8" + b"\x00" * (5 * 1024 * 1024), "5 MB"),         # over the size limit
], ids=["random-bytes", "truncated-jpeg", "svg", "decompression-bomb", "over-5mb"])
def test_bad_images_are_refused_with_a_chinese_message(name, data, message):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        clean_image(SimpleUploadedFile(name, data), field="photo")
    assert message in refused.value.message_dict["photo"][0]


def test_a_real_image_named_wrongly_is_kept_under_its_true_type():
    cleaned = clean_image(image_upload("photo.png"), field="photo")
    renamed = SimpleUploadedFile("evidence.gif", cleaned.read())
    assert clean_image(renamed).name == "evidence.png"
