"""What every contacts tool shares: the schema, the serializer and contact validation."""

from __future__ import annotations

from typing import Any

import msgspec

from packs.core.schemas import validate
from packs.core.serializers import ItemSerializer
from packs.core.tools import Tool, ValidationError

NOT_SENT: Any = msgspec.UNSET
"""The default of a tool's ``contact`` parameter: the request sent no ``contact`` key."""

MISSING_CHANGES = 'is required: send the fields to change as {"contact": {...}}'


class ContactTool(Tool, schema="contact", serializer=ItemSerializer):
    """Base of the contacts tools (declares no route itself)."""

    def validated_contact(self, contact: Any, *, partial: bool = False) -> dict[str, Any]:
        """``contact`` checked against the schema: every field when ``partial`` is false, else those sent.

        ``contact`` is :data:`NOT_SENT` when the request had no ``contact`` key; ``null`` is not an object. A
        PATCH (``partial``) without it is refused: its body names no change (a misspelt ``contacts`` key, ``{}``),
        and answering 200 would tell the client its change was made.
        """
        if partial and contact is NOT_SENT:
            raise ValidationError("Validation failed", {"contact": MISSING_CHANGES})
        return validate(self.schema_class(), contact, key="contact", partial=partial, missing=NOT_SENT)

    def normalized(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A complete contact document (absent optional fields present as null or empty)."""
        document: dict[str, Any] = msgspec.to_builtins(msgspec.convert(fields, self.schema_class()))
        return document
