"""QR codes as inline SVG (no image files, no inline styles), for check-in and disclosure links."""

from io import BytesIO

from django.utils.safestring import mark_safe


def qr_svg(url: str):
    import qrcode
    import qrcode.image.svg
    out = BytesIO()
    qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=12).save(out)
    return mark_safe(out.getvalue().decode().split("?>", 1)[-1])
