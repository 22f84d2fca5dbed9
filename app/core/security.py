"""Password hashing and random tokens, in one place so every secret is made and compared the same way."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token(nbytes: int = 32) -> str:
    """256 random bits by default, URL-safe; store only `token_digest(token)`."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def derived_token(secret_key: str, purpose: str, nonce: str) -> str:
    """256 bits, URL-safe, reproducible only with the secret key: a link can be rebuilt to send it again,
    while the database alone (which keeps the nonce and the token's digest) opens nothing."""
    mac = hmac.new(secret_key.encode(), f"{purpose}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
