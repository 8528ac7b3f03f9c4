"""Field-by-field validation of client data against a schema, reporting every bad field at once."""

from __future__ import annotations

from typing import Any

import msgspec

from packs.core.schemas.base import Schema
from packs.core.tools.errors import ValidationError
from packs.core.tools.parameters import describe_conversion_error

REQUIRED = "is required"
UNKNOWN = "is not a known field"


def validate(
    schema: type[Schema], data: Any, *, key: str, partial: bool = False, missing: Any = None
) -> dict[str, Any]:
    """Check ``data`` (the value a client sent under ``key``) against ``schema``.

    Returns the fields sent, converted to the schema's field types and back to JSON-ready
    builtins (absent optional fields are left out). Raises one
    ``ValidationError("Validation failed", details)`` with one message per failing field: a
    required field that is missing, null or blank (only the fields sent are checked when
    ``partial``), a value of the wrong type or breaking a constraint, a field the schema does not
    know; ``data`` that is not an object is reported under ``key``.

    ``missing`` is the value that stands for "``key`` was not sent" (the tool's default for it): it checks
    as an empty object. With the default, ``None``, a ``null`` sent under ``key`` reads as not sent; a tool
    that defaults ``key`` to ``msgspec.UNSET`` and passes ``missing=msgspec.UNSET`` refuses ``null`` as not
    an object (docs/writing-a-pack.md, section 6).
    """
    if data is missing:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError("Validation failed", {key: f"must be an object, got {_json_type(data)}"})
    info = msgspec.inspect.type_info(schema)
    assert isinstance(info, msgspec.inspect.StructType)
    details: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for field, inspected in zip(msgspec.structs.fields(schema), info.fields, strict=True):
        name = field.encode_name
        value = data.get(name)
        if _blank(value):
            if field.required and (not partial or name in data):
                details[name] = REQUIRED
            elif name in data:
                clean[name] = None if _takes_null(inspected.type) else _default(field)
            continue
        try:
            clean[name] = msgspec.convert(value, type=field.type)
        except msgspec.ValidationError as error:
            details[name] = _message(inspected.type, value, error)
    known = {field.encode_name for field in info.fields}
    details.update({name: UNKNOWN for name in data if name not in known})
    if details:
        raise ValidationError("Validation failed", details)
    converted: dict[str, Any] = msgspec.to_builtins(clean)
    return converted


def _takes_null(field_type: msgspec.inspect.Type) -> bool:
    """Whether a field of ``field_type`` may hold ``null`` (``X | None``, ``Any``)."""
    if isinstance(field_type, msgspec.inspect.UnionType):
        return any(_takes_null(member) for member in field_type.types)
    return isinstance(field_type, msgspec.inspect.NoneType | msgspec.inspect.AnyType)


def _default(field: msgspec.structs.FieldInfo) -> Any:
    """The default of an optional field (a blank value of a field that cannot hold ``null`` resets it)."""
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return field.default


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _message(field_type: msgspec.inspect.Type, value: Any, error: msgspec.ValidationError) -> str:
    for constraint in _constraints(field_type):
        message = (constraint.extra or {}).get("message")
        if message and _type_matches(constraint.type, value):
            return str(message)
    return describe_conversion_error(error)


def _constraints(field_type: msgspec.inspect.Type) -> list[msgspec.inspect.Metadata]:
    if isinstance(field_type, msgspec.inspect.Metadata):
        return [field_type]
    if isinstance(field_type, msgspec.inspect.UnionType):
        return [t for t in field_type.types if isinstance(t, msgspec.inspect.Metadata)]
    return []


def _type_matches(field_type: msgspec.inspect.Type, value: Any) -> bool:
    if isinstance(field_type, msgspec.inspect.StrType):
        return isinstance(value, str)
    return True


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__
