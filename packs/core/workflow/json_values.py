"""Equality of JSON values as a database gives them back: numbers by value, whatever their Python type.

PostgreSQL's ``jsonb`` keeps a number as ``numeric``: ``1e300`` is read back as the integer ``10**300``,
``1e16`` as ``10000000000000000`` and ``-0.0`` as ``0.0``. A repeated request (a start or a signal with
the same ``Idempotency-Key``) compares what it sends with what was stored, so it compares numbers by the
decimal value their JSON text spells (docs/http-api.md, Workflow executions).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def same_json(first: Any, second: Any) -> bool:
    """Whether two JSON values (decoded to builtins) are the same: numbers equal by decimal value, booleans
    only equal to booleans, objects key by key, arrays item by item."""
    pending = [(first, second)]
    while pending:
        left, right = pending.pop()
        if isinstance(left, dict) and isinstance(right, dict):
            if left.keys() != right.keys():
                return False
            pending.extend((value, right[key]) for key, value in left.items())
        elif isinstance(left, list) and isinstance(right, list):
            if len(left) != len(right):
                return False
            pending.extend(zip(left, right, strict=True))
        elif _is_number(left) and _is_number(right):
            if _decimal(left) != _decimal(right):
                return False
        elif type(left) is not type(right) or left != right:
            return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decimal(number: int | float) -> Decimal:
    """The decimal value a JSON text writes ``number`` as (a float's shortest repr, as JSON encoders write it)."""
    return Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
