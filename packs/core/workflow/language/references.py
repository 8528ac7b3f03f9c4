"""References to workflow state: ``$name.a.0.b`` in strings, and how they resolve.

A reference is ``$`` followed by a name (``[A-Za-z_][A-Za-z0-9_]*``) and any number of ``.segment`` parts
(``[A-Za-z0-9_]+``); anything else ends it, so ``"Total: $x.total."`` references ``x.total``. Segments walk dicts by
key and lists by integer index; a missing key yields ``None``. Nothing else is reachable: there is no attribute
access on Python objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec

ALWAYS_AVAILABLE = frozenset({"input", "now", "history", "execution"})
"""The roots every ``$reference`` may use, whatever the steps before it set."""

REFERENCE: re.Pattern[str] = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)")
"""A reference in text; group 1 is its path (without ``$``)."""


def split_path(path: str) -> list[str]:
    """The segments of a reference path: ``"a.b.0"`` -> ``["a", "b", "0"]``."""
    return path.split(".")


def root_of(path: str) -> str:
    """The variable a reference path starts from: ``"input.a.b"`` -> ``"input"``."""
    return split_path(path)[0]


def walk(value: Any, segments: Iterable[str]) -> Any:
    """Follow ``segments`` from ``value``: dicts by key, lists and tuples by index; anything unreachable is ``None``."""
    current = value
    for segment in segments:
        current = _step(current, segment)
        if current is None:
            return None
    return current


def _step(value: Any, segment: str) -> Any:
    """One segment down from ``value``, or ``None`` when there is nothing there."""
    if isinstance(value, Mapping):
        return value.get(segment)
    if isinstance(value, list | tuple):
        if not (segment.isascii() and segment.isdigit()):
            return None
        index = int(segment)
        return value[index] if index < len(value) else None
    return None


def lookup(path: str, variables: Mapping[str, Any]) -> Any:
    """The value ``path`` (without ``$``) points to in ``variables``, or ``None`` when anything along it is missing."""
    root, *rest = split_path(path)
    return walk(variables.get(root), rest)


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with every reference in it replaced by what it points to in ``variables``.

    A string that is exactly one reference becomes the referenced value itself, keeping its type. A string with
    references embedded in text interpolates each: strings as they are, ``None`` as ``""``, anything else as compact
    JSON (``true``, ``3``, ``{"a":1}``). Dict values and list items are resolved recursively (dict keys are left
    alone); anything else is returned as is. ``variables`` is only consulted for the roots actually referenced.
    """
    if isinstance(value, str):
        return _resolve_text(value, variables)
    if isinstance(value, dict):
        return {key: resolve(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, variables) for item in value]
    return value


def _resolve_text(text: str, variables: Mapping[str, Any]) -> Any:
    """A string resolved: a whole reference keeps the referenced value's type, embedded ones are interpolated."""
    if "$" not in text:
        return text
    whole = REFERENCE.fullmatch(text)
    if whole is not None:
        return lookup(whole.group(1), variables)
    return REFERENCE.sub(lambda match: as_text(lookup(match.group(1), variables)), text)


def as_text(value: Any) -> str:
    """How a referenced value reads inside text: strings as they are, ``None`` as ``""``, anything else as JSON.

    A value JSON cannot represent (an arbitrary Python object) falls back to ``str(value)``.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, ValueError, msgspec.EncodeError):
        return str(value)


def references_in(value: Any) -> list[str]:
    """Every reference path (without ``$``) in the strings inside ``value``, in order of appearance.

    Dict values and list/tuple items are searched recursively; dict keys are not.
    """
    return list(_iter_references(value))


def _iter_references(value: Any) -> Iterator[str]:
    """The reference paths in ``value``, lazily, in order of appearance."""
    if isinstance(value, str):
        if "$" in value:
            yield from (match.group(1) for match in REFERENCE.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _iter_references(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _iter_references(item)
