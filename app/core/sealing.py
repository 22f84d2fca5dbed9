"""Secrets Assay must send on later (a partner's key for its callback) kept sealed at rest: authenticated
encryption (Fernet: AES-128-CBC with HMAC-SHA256) under a key derived from the install's secret key, so a
copy of the database alone does not reveal them."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PURPOSE = b"assay sealed secrets v1"


class SealBroken(ValueError):
    """The sealed text cannot be opened: it was altered, or the install's secret key changed since."""


def _box(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(plain: str, secret_key: str) -> str:
    return _box(secret_key).encrypt(plain.encode()).decode()


def unseal(sealed: str, secret_key: str) -> str:
    try:
        return _box(secret_key).decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SealBroken("the sealed secret cannot be opened with this install's secret key") from None
