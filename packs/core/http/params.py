"""The parameters a request hands to its tool: query, JSON body and path, minus reserved keys."""

from __future__ import annotations

from typing import Any

import msgspec

ROUTING_KEYS = frozenset({"namespace", "feature", "action"})
IDENTITY_KEYS = frozenset({"user_id", "workspace_id"})
SERVER_KEYS = frozenset({"id", "http_method"})
RESERVED_KEYS = ROUTING_KEYS | IDENTITY_KEYS | SERVER_KEYS
"""Keys a client cannot set: routing keys, the identity, the path id and the request method."""


class BadRequestBodyError(ValueError):
    """The body is not a JSON object."""


def decode_body(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body`` (empty body: ``{}``); :class:`BadRequestBodyError` otherwise."""
    if not body.strip():
        return {}
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequestBodyError(f"the request body is not valid JSON: {error}") from None
    if not isinstance(decoded, dict):
        raise BadRequestBodyError("the request body must be a JSON object")
    return decoded


def merge_params(query: dict[str, list[str]], body: dict[str, Any]) -> dict[str, Any]:
    """Query parameters (a repeated one becomes a list) overlaid by body keys, reserved keys dropped."""
    params: dict[str, Any] = {
        key: values[0] if len(values) == 1 else values for key, values in query.items() if key not in RESERVED_KEYS
    }
    params.update((key, value) for key, value in body.items() if key not in RESERVED_KEYS)
    return params
