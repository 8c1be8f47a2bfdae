"""Encryption at rest of the Entra client secret (no database needed)."""

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings

from integrations.setup import secrets

SECRET = "Zq8~s3cr3t-VALUE-never-shown_0123456789"
OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))


def test_round_trip_with_explicit_keys():
    token = secrets.encrypt(SECRET, keys=[NEW])
    assert SECRET not in token
    assert secrets.decrypt(token, keys=[NEW]) == SECRET


def test_newest_key_encrypts_and_every_key_decrypts():
    token = secrets.encrypt(SECRET, keys=[NEW, OLD])
    assert secrets.decrypt(token, keys=[NEW]) == SECRET  # written with the newest
    with pytest.raises(secrets.SecretDecryptionError):
        secrets.decrypt(token, keys=[OLD])
    old_token = secrets.encrypt(SECRET, keys=[OLD])
    assert secrets.decrypt(old_token, keys=[NEW, OLD]) == SECRET  # old tokens still read


def test_rotate_re_encrypts_under_the_newest_key():
    old_token = secrets.encrypt(SECRET, keys=[OLD])
    rotated = secrets.rotate(old_token, keys=[NEW, OLD])
    assert rotated != old_token
    assert secrets.decrypt(rotated, keys=[NEW]) == SECRET
    with pytest.raises(secrets.SecretDecryptionError):
        secrets.rotate(old_token, keys=[OTHER])


def test_no_key_decrypts_gives_a_clear_error_naming_the_setting_only():
    token = secrets.encrypt(SECRET, keys=[OLD])
    with pytest.raises(secrets.SecretDecryptionError) as caught:
        secrets.decrypt(token, keys=[NEW, OTHER])
    text = str(caught.value) + repr(caught.value)
    assert "VECTIS_ENCRYPTION_KEYS" in text
    for private in (SECRET, OLD, NEW, OTHER, token):
        assert private not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("keys", [[], "a-single-string", ["not-a-fernet-key"], [NEW, "short"], None])
def test_unusable_keys_are_refused_without_echoing_them(keys, monkeypatch):
    if keys is None:
        monkeypatch.setattr(django_settings, "VECTIS_ENCRYPTION_KEYS", [], raising=False)
    with pytest.raises(secrets.EncryptionKeyError) as caught:
        secrets.encrypt(SECRET, keys=keys)
    assert "VECTIS_ENCRYPTION_KEYS" in str(caught.value)
    assert "not-a-fernet-key" not in str(caught.value) and "short" not in str(caught.value)


def test_keys_are_read_lazily_from_django_settings(monkeypatch):
    monkeypatch.setattr(django_settings, "VECTIS_ENCRYPTION_KEYS", [NEW, OLD], raising=False)
    token = secrets.encrypt(SECRET)
    assert secrets.decrypt(token, keys=[NEW]) == SECRET
    assert secrets.decrypt(secrets.encrypt(SECRET, keys=[OLD])) == SECRET


def test_garbage_and_empty_tokens_are_decryption_errors():
    for token in ("", "not-a-token", "gAAAAAB" + "x" * 40):
        with pytest.raises(secrets.SecretDecryptionError):
            secrets.decrypt(token, keys=[NEW])


def test_encrypting_nothing_is_refused():
    with pytest.raises(ValueError):
        secrets.encrypt("", keys=[NEW])


def test_fingerprint_is_stable_per_ciphertext_and_reveals_nothing():
    token = secrets.encrypt(SECRET, keys=[NEW])
    assert secrets.fingerprint(token) == secrets.fingerprint(token)
    assert secrets.fingerprint(token) != secrets.fingerprint(secrets.encrypt(SECRET, keys=[NEW]))
    assert SECRET not in secrets.fingerprint(token)


def test_generated_keys_work():
    key = secrets.generate_key()
    assert secrets.decrypt(secrets.encrypt(SECRET, keys=[key]), keys=[key]) == SECRET
