"""What every contacts tool shares: the schema, the serializer and contact validation."""

from __future__ import annotations

from typing import Any

import msgspec

from packs.core.schemas import validate
from packs.core.serializers import ItemSerializer
from packs.core.tools import Tool

NOT_SENT: Any = msgspec.UNSET
"""The default of a tool's ``contact`` parameter: the request sent no ``contact`` key."""


class ContactTool(Tool, schema="contact", serializer=ItemSerializer):
    """Base of the contacts tools (declares no route itself)."""

    def validated_contact(self, contact: Any, *, partial: bool = False) -> dict[str, Any]:
        """``contact`` checked against the schema: every field when ``partial`` is false, else those sent.

        ``contact`` is :data:`NOT_SENT` when the request had no ``contact`` key; ``null`` is not an object.
        """
        return validate(self.schema_class(), contact, key="contact", partial=partial, missing=NOT_SENT)

    def normalized(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A complete contact document (absent optional fields present as null or empty)."""
        document: dict[str, Any] = msgspec.to_builtins(msgspec.convert(fields, self.schema_class()))
        return document
