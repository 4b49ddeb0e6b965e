"""Encryption of team secrets at rest (Fernet), and their masked display."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    configured = settings.LIPSERVICE_ENCRYPTION_KEY
    if configured:
        try:
            return Fernet(configured.encode())
        except ValueError as exc:
            raise ImproperlyConfigured(
                "LIPSERVICE_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)"
            ) from exc
    derived = hashlib.sha256(b"lipservice.secrets:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("a stored secret cannot be decrypted with the configured key") from exc


def mask(secret: str) -> str:
    """Enough of a secret to recognise it, never enough to use it."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return "•" * len(secret)
    return f"{secret[:4]}…{secret[-4:]}"
