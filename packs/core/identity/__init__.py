"""Identity: API tokens, bearer authentication and workspace selection."""

from packs.core.identity.authenticate import Identity, IdentityError, authenticate

__all__ = ["Identity", "IdentityError", "authenticate"]
