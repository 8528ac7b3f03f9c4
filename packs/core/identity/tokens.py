"""API token secrets: generated once, shown once, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "pf_"


def generate_token() -> str:
    """A new random token (``pf_`` and 43 URL-safe characters, 256 bits of entropy)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The hex SHA-256 of ``token``: what the database stores and looks tokens up by.

    A fast hash is right here: tokens are long random secrets, not passwords, so there is nothing to
    guess, and the lookup happens on every request.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """The first characters of ``token``, kept in clear to tell tokens apart in listings."""
    return token[:10]
