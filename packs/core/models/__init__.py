"""The core pack's SQLAlchemy models (advanced-alchemy UUID audit bases)."""

from packs.core.models.identity import ApiToken, Membership, User, Workspace
from packs.core.models.item import Item

__all__ = ["ApiToken", "Item", "Membership", "User", "Workspace"]
