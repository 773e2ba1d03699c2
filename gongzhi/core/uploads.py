"""Uploaded images: checked by content (not by name), size-limited, and re-encoded without metadata (EXIF GPS)."""

import io

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 40-megapixel phone photo; larger is a decompression bomb, not a photo
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "GIF": ("gif", "image/gif"),
           "WEBP": ("webp", "image/webp")}


def clean_image(upload, field="photo"):
    """Return a copy of ``upload`` that is a real JPEG/PNG/GIF/WebP image with its metadata removed, or raise
    ValidationError keyed by ``field``. ``None`` passes through."""
    if upload is None:
        return None
    if upload.size > MAX_IMAGE_BYTES:
        raise ValidationError({field: _("The photo is larger than 5 MB.")})
    not_image = ValidationError({field: _("The photo must be a JPEG, PNG, GIF or WebP image.")})
    try:
        upload.seek(0)
        image = Image.open(upload)
        if image.format not in FORMATS or image.width * image.height > MAX_IMAGE_PIXELS:
            raise not_image
        image.load()  # decodes every byte: a truncated or corrupt file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise not_image from None
    ext, content_type = FORMATS[image.format]
    image = ImageOps.exif_transpose(image)  # keep the photo the right way up once orientation is dropped
    out = io.BytesIO()
    if ext == "jpg":
        image.convert("RGB").save(out, "JPEG", quality=90)
    else:  # saving without exif=/pnginfo= drops the metadata
        image.save(out, {"png": "PNG", "gif": "GIF", "webp": "WEBP"}[ext])
    stem = (getattr(upload, "name", "") or "photo").rsplit("/", 1)[-1].rsplit(".", 1)[0][:60] or "photo"
    return SimpleUploadedFile(f"{stem}.{ext}", out.getvalue(), content_type=content_type)
