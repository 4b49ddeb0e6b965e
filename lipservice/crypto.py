"""Encryption of team secrets at rest (a Fernet key list: the newest encrypts, every listed key decrypts), and their
masked display."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver


class SecretUnreadable(ImproperlyConfigured):
    """A stored secret no configured key decrypts (the key that wrote it was dropped from the list)."""


def _derived_key() -> Fernet:
    derived = hashlib.sha256(b"lipservice.secrets:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def configured_keys() -> list[str]:
    """LIPSERVICE_ENCRYPTION_KEY: one Fernet key, or several separated by commas, newest first."""
    return [part.strip() for part in settings.LIPSERVICE_ENCRYPTION_KEY.split(",") if part.strip()]


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    keys: list[Fernet] = []
    for configured in configured_keys():
        try:
            keys.append(Fernet(configured.encode()))
        except ValueError as exc:
            raise ImproperlyConfigured(
                "LIPSERVICE_ENCRYPTION_KEY must list Fernet keys (32 url-safe base64 bytes each), newest first"
            ) from exc
    # The key derived from SECRET_KEY encrypts only when nothing is configured (development); it stays last in the
    # list so that secrets written before an explicit key was set still read, until the re-encrypt command moves them.
    keys.append(_derived_key())
    return MultiFernet(keys)


@receiver(setting_changed)
def _keys_changed(*, setting: str, **kwargs: object) -> None:
    if setting in {"LIPSERVICE_ENCRYPTION_KEY", "SECRET_KEY"}:
        _fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret cannot be decrypted with any configured key") from exc


def reencrypt(token: str) -> str:
    """The same secret under the newest key (unchanged bytes when it is empty)."""
    return _fernet().rotate(token.encode()).decode() if token else ""


def mask(secret: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return "•" * len(secret)
    return f"{secret[:4]}…{secret[-4:]}"
