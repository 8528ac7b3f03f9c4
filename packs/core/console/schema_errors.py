"""The problems a JSON Schema finds in a form's values, by field: an approval's form (its ``form`` JSON Schema)
checked in the console before the decision is sent, so that each violation shows next to its field
(README, "The operations console")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema


def schema_errors(schema: Mapping[str, Any] | None, values: Mapping[str, Any]) -> dict[str, str]:
    """Each field of ``values`` that ``schema`` refuses, with the first problem it finds there (a sentence);
    a problem that belongs to no field (the object as a whole) is under ``""``."""
    if not schema:
        return {}
    errors: dict[str, str] = {}
    validator = jsonschema.Draft202012Validator(dict(schema))
    for error in sorted(validator.iter_errors(dict(values)), key=lambda found: list(map(str, found.absolute_path))):
        name = str(error.absolute_path[0]) if error.absolute_path else ""
        message = error.message[:1].upper() + error.message[1:]
        errors.setdefault(name, message if message.endswith(".") else f"{message}.")
    return errors


__all__ = ["schema_errors"]
