"""Checking a run's input against the workflow's declared ``inputs`` (JSON Schema)."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

from packs.core.workflow.errors import StepValueError
from packs.core.workflow.language.definition import InputDef


def input_schema(declared: InputDef) -> dict[str, Any]:
    """The JSON Schema of one declared input."""
    schema = dict(declared.schema)
    if declared.type is not None:
        schema["type"] = declared.type
    return schema


SHOWN_VALUE_LENGTH = 80
"""How much of a value a problem quotes (jsonschema quotes it whole: a 5000-item list made a 355 KB message)."""


def shortened(message: str, value: Any) -> str:
    """``message`` with the value it quotes cut to :data:`SHOWN_VALUE_LENGTH` characters and its size."""
    quoted = repr(value)
    if len(quoted) <= SHOWN_VALUE_LENGTH or quoted not in message:
        return message
    return message.replace(quoted, f"{quoted[:SHOWN_VALUE_LENGTH]}... ({len(quoted):,} characters)", 1)


def check_input(inputs: dict[str, InputDef], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with defaults applied; :class:`StepError` naming every missing or invalid input."""
    checked = copy.deepcopy(given)
    problems: list[str] = []
    for name, declared in inputs.items():
        if name not in checked or checked[name] is None:
            if declared.default is not None:
                checked[name] = copy.deepcopy(declared.default)
            elif declared.required:
                problems.append(f"input {name!r} is required")
                continue
            else:
                continue
        validator = jsonschema.Draft202012Validator(input_schema(declared))
        for error in validator.iter_errors(checked[name]):
            where = "".join(f"[{part!r}]" for part in error.absolute_path)
            problems.append(f"input {name!r}{where}: {shortened(error.message, error.instance)}")
    if problems:
        raise StepValueError("invalid input: " + "; ".join(problems))
    return checked
