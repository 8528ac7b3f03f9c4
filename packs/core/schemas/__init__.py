"""Schemas: msgspec Structs with a slug, their registry and field-by-field validation."""

from packs.core.schemas.base import Schema, schema_description, schema_slug, schema_title
from packs.core.schemas.registry import (
    DuplicateSchemaError,
    SchemaRegistry,
    UnknownSchemaError,
    registry,
)
from packs.core.schemas.validation import validate

__all__ = [
    "DuplicateSchemaError",
    "Schema",
    "SchemaRegistry",
    "UnknownSchemaError",
    "registry",
    "schema_description",
    "schema_slug",
    "schema_title",
    "validate",
]
