"""AES-256-GCM field encryption with a key id in every value, so keys can rotate.

Stored form: ``v1:<kid>:<base64(nonce ‖ ciphertext ‖ tag)>``. The first configured key
encrypts; any configured key decrypts. A tampered value or an unknown key id raises
:class:`DecryptionError` — never garbage text."""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import models

PREFIX = "v1"


class DecryptionError(Exception):
    """An encrypted value was tampered with, truncated, or needs a key we do not have."""


@lru_cache(maxsize=8)
def _parse_keys(spec: str) -> tuple[str, dict[str, bytes]]:
    keys: dict[str, bytes] = {}
    first = ""
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        kid, _, b64 = part.partition(":")
        raw = base64.b64decode(b64)
        if len(raw) != 32 or not kid or ":" in kid:
            raise ValueError(f"field key {kid!r} must be 32 bytes of base64 after 'kid:'")
        keys[kid] = raw
        first = first or kid
    if not first:
        raise ValueError("XINLIAN_FIELD_KEYS holds no key")
    return first, keys


def _keys() -> tuple[str, dict[str, bytes]]:
    return _parse_keys(settings.FIELD_ENCRYPTION_KEYS)


@lru_cache(maxsize=8)
def _aead(key: bytes) -> AESGCM:
    """One cipher object per key: building it costs as much as the encryption itself."""
    return AESGCM(key)


def encrypt(plaintext: str) -> str:
    kid, keys = _keys()
    nonce = os.urandom(12)
    sealed = _aead(keys[kid]).encrypt(nonce, plaintext.encode(), kid.encode())
    return f"{PREFIX}:{kid}:{base64.b64encode(nonce + sealed).decode()}"


def decrypt(token: str) -> str:
    try:
        prefix, kid, b64 = token.split(":", 2)
    except ValueError as exc:
        raise DecryptionError("not an encrypted value") from exc
    _, keys = _keys()
    if prefix != PREFIX or kid not in keys:
        raise DecryptionError(f"unknown format or key id {kid!r}")
    try:
        blob = base64.b64decode(b64, validate=True)
        return _aead(keys[kid]).decrypt(blob[:12], blob[12:], kid.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("encrypted value failed its integrity check") from exc


def key_id_of(token: str) -> str:
    return token.split(":", 2)[1]


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; Python sees plain ``str``. Not searchable by design."""

    def from_db_value(self, value, expression, connection):  # noqa: ANN001
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):  # noqa: ANN001
        value = super().get_prep_value(value)
        return None if value is None else encrypt(str(value))
