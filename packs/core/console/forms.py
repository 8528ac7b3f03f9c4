"""Forms generated from a workflow's inputs or a JSON Schema, and the values a submitted form gives.

Each field is typed from its schema: ``string`` (a ``select`` with an ``enum``), ``integer``, ``number``,
``boolean`` (a checkbox), and anything else (``object``, ``array``, no type) as JSON in a text area.
Required fields are marked; defaults fill the form. A value that does not fit its type is an error
shown next to its field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from packs.core.http.params import MAX_JSON_DEPTH, BadRequestBodyError, json_problems
from packs.core.tools.parameters import WHOLE_NUMBER
from packs.core.workflow import WorkflowDef

IDENTITY_FIELDS = frozenset({"user_id", "workspace_id"})
"""Inputs the caller's identity gives (never asked for in a form)."""


@dataclass(frozen=True)
class Field:
    """One form field."""

    name: str
    kind: str
    required: bool
    label: str
    description: str | None = None
    default: Any = None
    choices: tuple[str, ...] = ()
    value: str = ""
    error: str | None = None

    @property
    def html_id(self) -> str:
        """The field's element id."""
        return f"field-{self.name}"


@dataclass
class Submitted:
    """What a submitted form gave: the values by name, and an error by field name."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "string" and schema.get("enum"):
        return "choice"
    return kind if kind in {"string", "integer", "number", "boolean"} else "json"


def _shown(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "json":
        return json.dumps(value, indent=2)
    if kind == "boolean":
        return "true" if value else ""
    return str(value)


def input_fields(definition: WorkflowDef) -> list[Field]:
    """The fields of a workflow's ``Start`` form: its inputs, but those the caller's identity gives."""
    fields = []
    for name, declared in definition.inputs.items():
        if name in IDENTITY_FIELDS:
            continue
        schema = dict(declared.schema)
        if declared.type and "type" not in schema:
            schema["type"] = declared.type
        kind = _kind(schema)
        fields.append(
            Field(
                name=name,
                kind=kind,
                required=declared.required and declared.default is None,
                label=str(schema.get("title") or name),
                description=declared.description or schema.get("description"),
                default=declared.default,
                choices=tuple(str(choice) for choice in schema.get("enum") or ()),
                value=_shown(kind, declared.default),
            )
        )
    return fields


def schema_fields(schema: Mapping[str, Any] | None) -> list[Field]:
    """The fields of an object JSON Schema's properties (an approval's form)."""
    if not schema:
        return []
    required = set(schema.get("required") or ())
    fields = []
    for name, property_schema in (schema.get("properties") or {}).items():
        property_schema = property_schema if isinstance(property_schema, Mapping) else {}
        kind = _kind(property_schema)
        fields.append(
            Field(
                name=name,
                kind=kind,
                required=name in required,
                label=str(property_schema.get("title") or name),
                description=property_schema.get("description"),
                default=property_schema.get("default"),
                choices=tuple(str(choice) for choice in property_schema.get("enum") or ()),
                value=_shown(kind, property_schema.get("default")),
            )
        )
    return fields


def parse(fields: list[Field], form: Mapping[str, Any]) -> Submitted:
    """The values of a submitted form for ``fields`` (an empty optional field is left out)."""
    submitted = Submitted()
    for declared in fields:
        raw = form.get(declared.name)
        text = raw.strip() if isinstance(raw, str) else ""
        if declared.kind == "boolean":
            submitted.values[declared.name] = text in {"true", "on", "1", "yes"}
            continue
        if not text:
            if declared.required:
                submitted.errors[declared.name] = "Required."
            continue
        try:
            submitted.values[declared.name] = _convert(declared, text)
        except ValueError as error:
            submitted.errors[declared.name] = str(error)
    return submitted


NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
"""A number as JSON spells it, leading zeros allowed (``float`` also takes ``1_0``, fullwidth digits, ``nan``)."""


def _convert(declared: Field, text: str) -> Any:
    if declared.kind == "integer":
        if WHOLE_NUMBER.fullmatch(text.strip()) is None:
            raise ValueError("Enter a whole number.")
        return int(text)
    if declared.kind == "number":
        if NUMBER.fullmatch(text.strip()) is None:
            raise ValueError("Enter a number.")
        number = float(text)
        if not math.isfinite(number):  # "1e999": JSON has no such number
            raise ValueError("Enter a finite number.")
        return number
    if declared.kind == "choice":
        if text not in declared.choices:
            raise ValueError(f"Choose one of {', '.join(declared.choices)}.")
        return text
    if declared.kind == "json":
        return json_value(text)
    return text


def json_value(text: str) -> Any:
    """The JSON value ``text`` spells, read as the API reads a body (docs/http-api.md, Parameters): no
    ``NaN``/``Infinity``, at most :data:`~packs.core.http.params.MAX_JSON_DEPTH` levels, no NUL in a string;
    :class:`ValueError` saying what is wrong otherwise."""
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError as error:
        raise ValueError(f"Enter JSON ({error}).") from None
    except RecursionError:
        raise ValueError(f"Enter JSON nested at most {MAX_JSON_DEPTH} levels deep.") from None
    try:
        problems = json_problems(value, "$")
    except BadRequestBodyError:
        raise ValueError(f"Enter JSON nested at most {MAX_JSON_DEPTH} levels deep.") from None
    if problems:
        raise ValueError(f"Enter JSON without NUL characters (\\u0000 at {', '.join(problems)}).")
    return value


def with_values(fields: list[Field], form: Mapping[str, Any], errors: Mapping[str, str]) -> list[Field]:
    """The fields again, showing what was submitted and each field's error."""
    shown = []
    for declared in fields:
        raw = form.get(declared.name)
        value = raw if isinstance(raw, str) else ""
        shown.append(
            Field(
                name=declared.name,
                kind=declared.kind,
                required=declared.required,
                label=declared.label,
                description=declared.description,
                default=declared.default,
                choices=declared.choices,
                value=value,
                error=errors.get(declared.name),
            )
        )
    return shown


__all__ = ["Field", "Submitted", "input_fields", "parse", "schema_fields", "with_values"]
