"""Encryption at rest, keyed lookup hashes and masking for ID and phone numbers."""

import base64
import hashlib
import hmac
from functools import lru_cache
from os import urandom
from time import time

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.db import models


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in settings.GONGZHI_DATA_KEYS])


@lru_cache(maxsize=1)
def _primary() -> Fernet:
    """The first key encrypts (MultiFernet does the same); calling it directly skips the wrapper."""
    return Fernet(settings.GONGZHI_DATA_KEYS[0].encode())


def encrypt(value: str) -> str:
    return _primary().encrypt(value.encode()).decode()


def encrypt_many(values: list[str]) -> list[str]:
    """Fernet tokens for many values, exactly as encrypt() makes them (version, time, random IV, AES-128-CBC with
    PKCS7, HMAC-SHA256), for bulk imports. Fernet builds one AES context per value, most of its cost for short
    values; here the CBC chain runs one block position at a time across the batch, in one AES call each."""
    if not values:
        return []
    key = base64.urlsafe_b64decode(settings.GONGZHI_DATA_KEYS[0])
    signing, aes = key[:16], Cipher(algorithms.AES(key[16:]), modes.ECB()).encryptor()
    padded = []
    for value in values:
        data = value.encode()
        pad = 16 - len(data) % 16
        padded.append(data + bytes((pad,)) * pad)
    ivs = urandom(16 * len(values))
    chain = [ivs[i:i + 16] for i in range(0, len(ivs), 16)]  # each value's previous ciphertext block
    ciphertexts = [b""] * len(values)
    for start in range(0, max(map(len, padded)), 16):
        todo = [i for i, data in enumerate(padded) if len(data) > start]
        plain = b"".join([padded[i][start:start + 16] for i in todo])
        previous = b"".join([chain[i] for i in todo])
        # CBC: C = AES(P xor previous C); XOR of the whole batch as one big integer
        blocks = aes.update((int.from_bytes(plain, "big") ^ int.from_bytes(previous, "big")).to_bytes(len(plain), "big"))
        for n, i in enumerate(todo):
            chain[i] = blocks[16 * n:16 * n + 16]
            ciphertexts[i] += chain[i]
    head = b"\x80" + int(time()).to_bytes(8, "big")
    tokens = []
    for i, ciphertext in enumerate(ciphertexts):
        body = head + ivs[16 * i:16 * i + 16] + ciphertext
        tokens.append(base64.urlsafe_b64encode(body + _hmac_sha256(signing, body)).decode())
    return tokens


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # wrong key: fail loudly rather than show ciphertext as data
        raise ValueError("personal data cannot be decrypted with the configured keys") from exc


def lookup_hash(value: str | None) -> str | None:
    """Keyed hash for exact lookup (an unkeyed hash of an ID number is trivially brute-forced)."""
    if not value:
        return None
    return _hmac_sha256(settings.GONGZHI_HASH_KEY.encode(), value.strip().upper().encode()).hex()


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 from a copy of a keyed HMAC prepared once per key: imports make three MACs a row, and
    keying a new HMAC each time costs more than hashing a short value."""
    mac = _keyed(key).copy()
    mac.update(message)
    return mac.digest()


@lru_cache(maxsize=4)
def _keyed(key: bytes):
    return hmac.new(key, digestmod=hashlib.sha256)


class EncryptedCharField(models.TextField):
    """Stores Fernet ciphertext; Python code sees the plain value."""

    def from_db_value(self, value, expression, connection):
        return None if value in (None, "") else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value in (None, "") else encrypt(value)


def mask_id_number(value: str | None) -> str:
    if not value:
        return ""
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def mask_phone(value: str | None) -> str:
    if not value:
        return ""
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)
