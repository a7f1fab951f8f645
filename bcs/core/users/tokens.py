"""Token strings: generation, splitting into a public id and a secret, salted hashing, checking.

A token is 32 letters and digits, as upstream's: the first :data:`ID_LENGTH` characters are its id
(stored in clear, used as the record's key so that authentication is one lookup), the remaining
:data:`SECRET_LENGTH` are the secret (about 143 bits), of which only a per-token salted HMAC-SHA256
is stored. A slow password hash (scrypt, PBKDF2) would protect nothing more here, because the secret
is random and long, not a human password; it would only add milliseconds to every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

__all__ = [
    "ID_LENGTH",
    "SECRET_LENGTH",
    "TOKEN_LENGTH",
    "digest",
    "matches",
    "new_id",
    "new_salt",
    "new_secret",
    "split",
]

ID_LENGTH = 8
SECRET_LENGTH = 24
TOKEN_LENGTH = ID_LENGTH + SECRET_LENGTH
_ID_ALPHABET = string.ascii_lowercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def new_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


def new_salt() -> str:
    return secrets.token_hex(16)


def split(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed token, else None (the caller answers 401 either way)."""
    if len(token) != TOKEN_LENGTH or not token.isascii() or not token.isalnum():
        return None
    token_id = token[:ID_LENGTH]
    if token_id != token_id.lower():
        return None
    return token_id, token[ID_LENGTH:]


def digest(secret: str, salt: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode(), hashlib.sha256).hexdigest()


def matches(secret: str, *, salt: str, expected: str) -> bool:
    """Whether ``secret`` hashes to ``expected``, compared in constant time."""
    return hmac.compare_digest(digest(secret, salt), expected)
