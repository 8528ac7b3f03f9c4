"""The parameters a request hands to its tool: query, JSON body and path, minus reserved keys.

Every JSON body of the API is read by :func:`decode_body` (docs/http-api.md, Parameters): a JSON
object nested at most :data:`MAX_JSON_DEPTH` levels deep (deeper: 400), whose strings and keys hold
no NUL character (422 naming each one: PostgreSQL cannot store them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from packs.core.tools.errors import ValidationError

ROUTING_KEYS = frozenset({"namespace", "feature", "action"})
IDENTITY_KEYS = frozenset({"user_id", "workspace_id"})
SERVER_KEYS = frozenset({"id", "http_method"})
RESERVED_KEYS = ROUTING_KEYS | IDENTITY_KEYS | SERVER_KEYS
"""Keys a client cannot set: routing keys, the identity, the path id and the request method."""

MAX_JSON_DEPTH = 64
"""How many levels of objects and arrays a JSON body may nest (the body itself is level 1)."""
NUL = "\x00"
NUL_PROBLEM = "must not contain NUL characters"
NUL_NAME_PROBLEM = "its name must not contain NUL characters"
TOO_DEEP = f"the request body is nested deeper than {MAX_JSON_DEPTH} levels"


class BadRequestBodyError(ValueError):
    """The body is not a JSON object, or is nested too deeply: 400."""


def decode_body(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body`` (empty body: ``{}``).

    :class:`BadRequestBodyError` when it is not JSON, not an object or nested deeper than
    :data:`MAX_JSON_DEPTH`; :class:`ValidationError` naming every string or key holding a NUL.
    """
    if not body.strip():
        return {}
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequestBodyError(f"the request body is not valid JSON: {error}") from None
    except RecursionError:
        raise BadRequestBodyError(TOO_DEEP) from None
    if not isinstance(decoded, dict):
        raise BadRequestBodyError("the request body must be a JSON object")
    # Cheap byte counts decide whether the walk is needed: fewer brackets than the limit cannot
    # nest beyond it, and JSON spells a NUL as the escape \u0000 (or, leniently read, a raw byte).
    deep = body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH
    if deep or b"\\u0000" in body or b"\x00" in body:
        problems = json_problems(decoded)
        if problems:
            raise ValidationError("Invalid parameters", problems)
    return decoded


def json_problems(value: Any, path: str = "") -> dict[str, str]:
    """The NUL problems of a decoded JSON ``value``, by path (``contact.tags[0]``); checked without recursion.

    Raises :class:`BadRequestBodyError` as soon as it meets a level deeper than :data:`MAX_JSON_DEPTH`.
    """
    problems: dict[str, str] = {}
    pending: list[tuple[Any, str, int]] = [(value, path, 1)]
    while pending:
        current, where, depth = pending.pop()
        if isinstance(current, str):
            if NUL in current:
                problems[where or "body"] = NUL_PROBLEM
            continue
        if isinstance(current, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise BadRequestBodyError(TOO_DEEP)
            pending.extend(_children(current, where, depth + 1, problems))
    return dict(sorted(problems.items()))


def _children(
    container: dict[Any, Any] | list[Any], where: str, depth: int, problems: dict[str, str]
) -> Iterable[tuple[Any, str, int]]:
    if isinstance(container, list):
        return [(item, f"{where}[{index}]", depth) for index, item in enumerate(container)]
    children = []
    for key, item in container.items():
        name = str(key)
        child = f"{where}.{shown(name)}" if where else shown(name)
        if NUL in name:
            problems[child] = NUL_NAME_PROBLEM
        children.append((item, child, depth))
    return children


def shown(name: str) -> str:
    """``name`` with each NUL written as the JSON escape ``\\u0000``, fit to name a field in ``details``."""
    return name.replace(NUL, "\\u0000")


def query_problems(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The NUL problems of decoded query parameters, by parameter name."""
    problems: dict[str, str] = {}
    for name, value in pairs:
        if NUL in name:
            problems[shown(name)] = NUL_NAME_PROBLEM
        elif NUL in value:
            problems[name] = NUL_PROBLEM
    return problems


def merge_params(query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any]:
    """Query parameters (a repeated one becomes a list) overlaid by body keys, reserved keys dropped."""
    params: dict[str, Any] = {
        key: values[0] if len(values) == 1 else values for key, values in query.items() if key not in RESERVED_KEYS
    }
    params.update((key, value) for key, value in body.items() if key not in RESERVED_KEYS)
    return params
