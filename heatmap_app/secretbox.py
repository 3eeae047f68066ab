"""Secrets saved with heatmaps (capture header values, cookie values, basic-auth passwords), encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under the keys of CAPTURE_SECRET_KEYS: the
first key encrypts, every key decrypts, so a new key is put first and the old ones kept until
`flask rotate-capture-secrets` has re-encrypted every saved secret with the new one (README: Secrets).
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class UnreadableSecret(Exception):
    """A saved secret no key of CAPTURE_SECRET_KEYS can decrypt (the keys changed without a rotation)."""


def _box() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in current_app.config["CAPTURE_SECRET_KEYS"]])


def encrypt(plaintext: str) -> str:
    return _box().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _box().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError) as error:
        raise UnreadableSecret("A saved secret cannot be decrypted with the keys of CAPTURE_SECRET_KEYS.") from error


def rotate(token: str) -> str:
    """The same secret encrypted with the first key."""
    try:
        return _box().rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError) as error:
        raise UnreadableSecret("A saved secret cannot be decrypted with the keys of CAPTURE_SECRET_KEYS.") from error
