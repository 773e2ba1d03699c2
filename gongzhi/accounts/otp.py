"""The second factor: TOTP devices (django-otp) for staff above grid worker and admin-site users."""

import base64
import io

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


def confirmed_device(user):
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def enrolment_device(user) -> TOTPDevice:
    """The unconfirmed device a first login enrols; the same one until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=settings.OTP_TOTP_ISSUER, confirmed=False)


def secret_base32(device) -> str:
    """The secret as authenticator apps expect it when typed in by hand."""
    return base64.b32encode(device.bin_key).decode()


def qr_data_uri(device) -> str:
    """The otpauth URI as an SVG QR code, as a data: URI for an <img> (no inline markup for the CSP to refuse)."""
    import qrcode
    import qrcode.image.svg

    out = io.BytesIO()
    qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=12).save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def report_failure(request, user):
    """A wrong code is a failed login: the audit log records it and django-axes counts it towards the lockout."""
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()}, request=request)


def current_code(device) -> str:
    """The code an authenticator app shows right now (demo output and tests)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"
