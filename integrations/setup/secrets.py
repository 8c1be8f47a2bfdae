"""Encryption at rest for the Entra client secret.

Keys come newest first (settings.VECTIS_ENCRYPTION_KEYS, read lazily so this
module works without Django, or passed explicitly): the newest key encrypts,
every key decrypts, and rotate() re-encrypts an old token under the newest
key. Error messages name the setting, never a key or the secret.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

SETTING = "VECTIS_ENCRYPTION_KEYS"


class EncryptionKeyError(Exception):
    """The configured keys are missing or unusable."""


class SecretDecryptionError(Exception):
    """No configured key decrypts the stored secret."""


def encrypt(secret: str, keys: Sequence[str] | None = None) -> str:
    if not isinstance(secret, str) or not secret:
        raise ValueError("the secret to encrypt must be a non-empty string")
    return _fernet(keys).encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt(token: str, keys: Sequence[str] | None = None) -> str:
    fernet = _fernet(keys)
    try:
        return fernet.decrypt(_token_bytes(token)).decode("utf-8")
    except (InvalidToken, UnicodeDecodeError):
        # from None: the chained exception adds nothing and the text must stay
        # free of key material.
        raise SecretDecryptionError(
            f"The stored client secret cannot be decrypted with any key in {SETTING}. "
            f"Restore the key it was saved with (keep old keys after the newest one), "
            f"or paste the client secret again."
        ) from None


def rotate(token: str, keys: Sequence[str] | None = None) -> str:
    """Re-encrypt under the newest key (run after prepending a new key)."""
    fernet = _fernet(keys)
    try:
        return fernet.rotate(_token_bytes(token)).decode("ascii")
    except InvalidToken:
        raise SecretDecryptionError(
            f"The stored client secret cannot be decrypted with any key in {SETTING}; "
            f"it was not rotated."
        ) from None


def fingerprint(token: str) -> str:
    """A stable id for one stored ciphertext, computed without decrypting.

    The Graph client keys its per-process token application on it, so a
    re-saved secret gets a fresh application and the secret itself is only
    decrypted when an application must be built."""
    return hashlib.sha256(_token_bytes(token)).hexdigest()[:32]


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _token_bytes(token: str | bytes) -> bytes:
    if isinstance(token, bytes):
        return token
    if not isinstance(token, str) or not token:
        raise SecretDecryptionError("No encrypted client secret is stored.")
    return token.encode("ascii", errors="replace")


def _fernet(keys: Sequence[str] | None) -> MultiFernet:
    if keys is None:
        from django.conf import settings  # lazy: keeps this module usable without Django

        keys = getattr(settings, SETTING, None)
    if isinstance(keys, (str, bytes)) or not keys:
        raise EncryptionKeyError(f"{SETTING} must be a non-empty list of Fernet keys, newest first.")
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise EncryptionKeyError(
                f"Key number {position} in {SETTING} is not a valid Fernet key "
                f"(32 url-safe base64-encoded bytes)."
            ) from None
    return MultiFernet(fernets)
