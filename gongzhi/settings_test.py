"""Test settings: the real settings with a fast password hasher."""

from gongzhi.settings import *  # noqa: F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
