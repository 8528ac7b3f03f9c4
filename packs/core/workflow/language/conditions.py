"""Conditions: ``{field, op, value}`` tests on workflow state, as routers and while loops use them.

``field`` is a reference path without ``$`` (``input.status``); ``value`` may itself be a reference (``$limit``),
except for ``matches``, whose pattern is a literal regular expression compiled at load time. A condition whose
evaluation raises is false.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from packs.core.workflow.language.references import REFERENCE, lookup, resolve

ALLOWED_KEYS = frozenset({"field", "op", "value"})
"""The keys a condition mapping may have."""


def _number(value: Any) -> float:
    """``value`` as a float for the numeric comparisons; raises for anything non-numeric (``None``, "abc", a list)."""
    return float(value)


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled, cached: ``matches`` compiles each pattern once per process."""
    return re.compile(pattern)


def _eq(actual: Any, expected: Any) -> bool:
    return bool(actual == expected)


def _neq(actual: Any, expected: Any) -> bool:
    return bool(actual != expected)


def _gt(actual: Any, expected: Any) -> bool:
    return _number(actual) > _number(expected)


def _gte(actual: Any, expected: Any) -> bool:
    return _number(actual) >= _number(expected)


def _lt(actual: Any, expected: Any) -> bool:
    return _number(actual) < _number(expected)


def _lte(actual: Any, expected: Any) -> bool:
    return _number(actual) <= _number(expected)


def _in(actual: Any, expected: Any) -> bool:
    return actual in expected


def _not_in(actual: Any, expected: Any) -> bool:
    return actual not in expected


def _contains(actual: Any, expected: Any) -> bool:
    """List membership, substring of a string, key of a dict; raises on anything else."""
    if not isinstance(actual, list | tuple | str | Mapping):
        raise TypeError(f"'contains' needs a list, string or dict field, got {type(actual).__name__}")
    return expected in actual


def _starts_with(actual: Any, expected: Any) -> bool:
    return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)


def _ends_with(actual: Any, expected: Any) -> bool:
    return isinstance(actual, str) and isinstance(expected, str) and actual.endswith(expected)


def _matches(actual: Any, expected: Any) -> bool:
    """``re.search`` of the pattern in ``str(actual)``; a missing (``None``) field never matches."""
    if actual is None:
        return False
    return compile_pattern(expected).search(str(actual)) is not None


def _exists(actual: Any, expected: Any) -> bool:
    return actual is not None


def _empty(actual: Any, expected: Any) -> bool:
    return actual is None or (isinstance(actual, str | list | tuple | dict) and len(actual) == 0)


def _truthy(actual: Any, expected: Any) -> bool:
    return actual is not None and actual is not False


def _falsy(actual: Any, expected: Any) -> bool:
    return actual is None or actual is False


OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": _eq,
    "neq": _neq,
    "gt": _gt,
    "gte": _gte,
    "lt": _lt,
    "lte": _lte,
    "in": _in,
    "not_in": _not_in,
    "contains": _contains,
    "starts_with": _starts_with,
    "ends_with": _ends_with,
    "matches": _matches,
    "exists": _exists,
    "empty": _empty,
    "truthy": _truthy,
    "falsy": _falsy,
}
"""Each operator, called as ``operator(field_value, value)``."""


def evaluate(condition: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
    """Whether ``condition`` holds on ``variables``; a condition whose evaluation raises (or is malformed) is false.

    ``value`` is resolved against ``variables`` first, except for ``matches`` whose pattern is used literally.
    """
    try:
        op = condition["op"]
        operator = OPERATORS[op]
        actual = lookup(condition["field"], variables)
        expected = condition.get("value")
        if op != "matches":
            expected = resolve(expected, variables)
        return bool(operator(actual, expected))
    except Exception:
        return False


def check_condition(condition: Any, where: str) -> list[str]:
    """Load-time problems with ``condition`` (``[]`` when it is fine), each message starting with ``where``."""
    if not isinstance(condition, Mapping):
        return [f"{where}: a condition must be a mapping with 'field', 'op' and 'value', got {_describe(condition)}"]
    problems = _check_keys(condition, where)
    problems += _check_field(condition, where)
    problems += _check_op(condition, where)
    if condition.get("op") == "matches":
        problems += _check_pattern(condition.get("value"), f"{where}.value")
    return problems


def _check_keys(condition: Mapping[Any, Any], where: str) -> list[str]:
    """Unknown keys of a condition mapping."""
    unknown = [key for key in condition if key not in ALLOWED_KEYS]
    if not unknown:
        return []
    names = ", ".join(repr(key) for key in unknown)
    return [f"{where}: unknown key(s) {names}; a condition has only 'field', 'op' and 'value'"]


def _check_field(condition: Mapping[Any, Any], where: str) -> list[str]:
    """A condition's ``field``: present, a string, a reference path written without ``$``."""
    if "field" not in condition:
        return [f"{where}: missing 'field' (the reference path to test, without '$', e.g. 'input.status')"]
    field = condition["field"]
    if not isinstance(field, str):
        return [f"{where}.field: must be a reference path string (e.g. 'input.status'), got {_describe(field)}"]
    if field.startswith("$"):
        return [f"{where}.field: write the path without '$' ({field[1:]!r}, not {field!r})"]
    if REFERENCE.fullmatch(f"${field}") is None:
        return [
            f"{where}.field: {field!r} is not a reference path; it must be a name followed by '.segment' parts "
            "of letters, digits and '_' (e.g. 'input.items.0.price')"
        ]
    return []


def _check_op(condition: Mapping[Any, Any], where: str) -> list[str]:
    """A condition's ``op``: present and one of :data:`OPERATORS`."""
    valid = ", ".join(OPERATORS)
    if "op" not in condition:
        return [f"{where}: missing 'op'; it must be one of: {valid}"]
    op = condition["op"]
    if not isinstance(op, str) or op not in OPERATORS:
        return [f"{where}.op: unknown operator {op!r}; valid operators: {valid}"]
    return []


def _check_pattern(pattern: Any, where: str) -> list[str]:
    """A ``matches`` pattern: a literal string (not a reference) that compiles as a regular expression."""
    if not isinstance(pattern, str):
        return [f"{where}: a 'matches' pattern must be a literal regular expression string, got {_describe(pattern)}"]
    if REFERENCE.fullmatch(pattern) is not None:
        return [
            f"{where}: a 'matches' pattern must be a literal regular expression, not the reference {pattern!r} "
            "(patterns are compiled at load time)"
        ]
    try:
        compile_pattern(pattern)
    except re.error as error:
        return [f"{where}: invalid regular expression {pattern!r}: {error}"]
    return []


def _describe(value: Any) -> str:
    """A short description of a wrong value for messages: its repr (shortened) and type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
