"""Serializers that render records for API answers."""

from packs.core.serializers.item import ItemSerializer

__all__ = ["ItemSerializer"]
