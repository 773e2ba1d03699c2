"""Log in with a username (staff) or a phone number (residents); SMS codes can plug in beside it."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from gongzhi.core.crypto import lookup_hash
from gongzhi.core.validators import normalise_phone


class PhoneOrUsernameBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if not username or password is None:
            return None
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.filter(phone_hash=lookup_hash(normalise_phone(username))).first()
        if user is None:
            User().set_password(password)  # same cost as a real check, so timing does not reveal accounts
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
