"""Transform expressions: a mapping of operation to argument, applied in order to one value.

Operations work on a list unless said otherwise: ``map``/``pluck`` (each item's path), ``select``/``reject``
(items whose paths equal all given values, or the others), ``first``/``last`` (n items, default 1), ``flatten``
(depth, default 1), ``compact`` (drop ``None``), ``uniq``, ``reverse``, ``sort`` (by a path, or by value),
``count`` (length of a list, dict or string), ``sum`` (of a path, or of the items); on a dict: ``keys``, ``values``,
``pick``, ``omit``, ``merge``. An operation that does not apply to the value's type leaves the value unchanged, and
no operation mutates its input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any

from packs.core.workflow.language.references import split_path, walk

# --- argument shapes -------------------------------------------------------------------------------------------


def _is_flag(argument: Any) -> bool:
    """No argument: the YAML ``op:`` (``None``) or ``op: true``."""
    return argument is None or argument is True


def _is_path(argument: Any) -> bool:
    """A path into an item: a non-empty string of non-empty ``.``-separated segments, without ``$``."""
    return (
        isinstance(argument, str)
        and not argument.startswith("$")
        and all(segment != "" for segment in split_path(argument))
    )


def _is_count(argument: Any) -> bool:
    """A non-negative integer (booleans are not integers here)."""
    return isinstance(argument, int) and not isinstance(argument, bool) and argument >= 0


def _is_count_or_flag(argument: Any) -> bool:
    return _is_flag(argument) or _is_count(argument)


def _is_path_or_flag(argument: Any) -> bool:
    return _is_flag(argument) or _is_path(argument)


def _is_criteria(argument: Any) -> bool:
    """``{path: value, ...}`` for ``select`` / ``reject``."""
    return isinstance(argument, Mapping) and all(_is_path(key) for key in argument)


def _is_key_list(argument: Any) -> bool:
    """``[key, ...]`` for ``pick`` / ``omit``."""
    return isinstance(argument, list | tuple) and all(isinstance(key, str) for key in argument)


def _is_mapping(argument: Any) -> bool:
    return isinstance(argument, Mapping)


def _count(argument: Any) -> int:
    """A count argument with its default: 1 when there is none."""
    return 1 if _is_flag(argument) else int(argument)


def _key(item: Any, path: Any) -> Any:
    """The item itself when there is no path, else the value at ``path`` inside it."""
    return item if _is_flag(path) else walk(item, split_path(path))


# --- operations on lists ---------------------------------------------------------------------------------------


def _map(items: Sequence[Any], path: str) -> list[Any]:
    segments = split_path(path)
    return [walk(item, segments) for item in items]


def _matches_all(item: Any, criteria: Mapping[str, Any]) -> bool:
    return all(walk(item, split_path(path)) == expected for path, expected in criteria.items())


def _select(items: Sequence[Any], criteria: Mapping[str, Any]) -> list[Any]:
    return [item for item in items if _matches_all(item, criteria)]


def _reject(items: Sequence[Any], criteria: Mapping[str, Any]) -> list[Any]:
    return [item for item in items if not _matches_all(item, criteria)]


def _first(items: Sequence[Any], argument: Any) -> list[Any]:
    return list(items[: _count(argument)])


def _last(items: Sequence[Any], argument: Any) -> list[Any]:
    count = _count(argument)
    return list(items[len(items) - count :]) if count < len(items) else list(items)


def _flatten(items: Sequence[Any], argument: Any) -> list[Any]:
    depth = _count(argument)
    result: list[Any] = []
    for item in items:
        if depth > 0 and isinstance(item, list | tuple):
            result.extend(_flatten(item, depth - 1))
        else:
            result.append(item)
    return result


def _compact(items: Sequence[Any], argument: Any) -> list[Any]:
    return [item for item in items if item is not None]


def _same(left: Any, right: Any) -> bool:
    """Equality that keeps booleans apart from numbers (``True`` is not a repeat of ``1``)."""
    return isinstance(left, bool) == isinstance(right, bool) and bool(left == right)


def _uniq(items: Sequence[Any], argument: Any) -> list[Any]:
    """First occurrences in order; hashable items are found by hash, unhashable ones (dicts, lists) by equality."""
    result: list[Any] = []
    seen: set[tuple[bool, Any]] = set()
    for item in items:
        try:
            marker = (isinstance(item, bool), item)
            if marker in seen:
                continue
            seen.add(marker)
        except TypeError:
            if any(_same(item, kept) for kept in result):
                continue
        result.append(item)
    return result


def _reverse(items: Sequence[Any], argument: Any) -> list[Any]:
    return list(reversed(items))


def _sort(items: Sequence[Any], path: Any) -> list[Any]:
    """Sorted by ``path`` (or by value), stable, ``None`` keys last; uncomparable keys leave the order as it was."""
    keyed = [(_key(item, path), item) for item in items]
    present = [pair for pair in keyed if pair[0] is not None]
    missing = [item for key, item in keyed if key is None]
    try:
        ordered = sorted(present, key=lambda pair: pair[0])
    except TypeError:
        return list(items)
    return [item for _, item in ordered] + missing


def _sum(items: Sequence[Any], path: Any) -> int | float:
    """The numeric sum of the items (or of their ``path``), skipping ``None``; raises on anything non-numeric."""
    total: int | float = 0
    for index, item in enumerate(items):
        number = _key(item, path)
        if number is None:
            continue
        if isinstance(number, bool) or not isinstance(number, int | float):
            where = "item" if _is_flag(path) else f"{path!r} of item"
            raise TypeError(f"sum: {where} {index} is {number!r} ({type(number).__name__}), not a number")
        total += number
    return total


# --- operations on other types ---------------------------------------------------------------------------------


def _length(value: Sized, argument: Any) -> int:
    return len(value)


def _keys(mapping: Mapping[Any, Any], argument: Any) -> list[Any]:
    return list(mapping.keys())


def _values(mapping: Mapping[Any, Any], argument: Any) -> list[Any]:
    return list(mapping.values())


def _pick(mapping: Mapping[Any, Any], keys: Sequence[str]) -> dict[Any, Any]:
    return {key: mapping[key] for key in keys if key in mapping}


def _omit(mapping: Mapping[Any, Any], keys: Sequence[str]) -> dict[Any, Any]:
    dropped = set(keys)
    return {key: item for key, item in mapping.items() if key not in dropped}


def _merge(mapping: Mapping[Any, Any], other: Mapping[Any, Any]) -> dict[Any, Any]:
    return {**mapping, **other}


# --- the table -------------------------------------------------------------------------------------------------

_LIST = (list, tuple)
_DICT = (Mapping,)


@dataclass(frozen=True)
class _Operation:
    """One operation: which values it applies to, which arguments it takes, and what it does."""

    applies_to: tuple[type, ...]
    accepts: Callable[[Any], bool]
    expected: str
    run: Callable[[Any, Any], Any]


_FLAG = "no argument (write 'op:' or 'op: true')"
_PATH = "a path string such as 'a.b' (no '$', no empty segments)"

_OPERATIONS: dict[str, _Operation] = {
    "map": _Operation(_LIST, _is_path, _PATH, _map),
    "pluck": _Operation(_LIST, _is_path, _PATH, _map),
    "select": _Operation(_LIST, _is_criteria, "a mapping of path to value, e.g. {status: active}", _select),
    "reject": _Operation(_LIST, _is_criteria, "a mapping of path to value, e.g. {status: active}", _reject),
    "first": _Operation(_LIST, _is_count_or_flag, "a non-negative integer, or nothing for 1", _first),
    "last": _Operation(_LIST, _is_count_or_flag, "a non-negative integer, or nothing for 1", _last),
    "flatten": _Operation(_LIST, _is_count_or_flag, "a non-negative depth, or nothing for 1", _flatten),
    "compact": _Operation(_LIST, _is_flag, _FLAG, _compact),
    "uniq": _Operation(_LIST, _is_flag, _FLAG, _uniq),
    "reverse": _Operation(_LIST, _is_flag, _FLAG, _reverse),
    "sort": _Operation(_LIST, _is_path_or_flag, f"{_PATH}, or nothing to sort by value", _sort),
    "count": _Operation((*_LIST, *_DICT, str), _is_flag, _FLAG, _length),
    "sum": _Operation(_LIST, _is_path_or_flag, f"{_PATH}, or nothing to sum the items", _sum),
    "keys": _Operation(_DICT, _is_flag, _FLAG, _keys),
    "values": _Operation(_DICT, _is_flag, _FLAG, _values),
    "pick": _Operation(_DICT, _is_key_list, "a list of key strings, e.g. [id, name]", _pick),
    "omit": _Operation(_DICT, _is_key_list, "a list of key strings, e.g. [password]", _omit),
    "merge": _Operation(_DICT, _is_mapping, "a mapping, e.g. {status: active}", _merge),
}

OPERATIONS: frozenset[str] = frozenset(_OPERATIONS)
"""The names of every transform operation."""


def apply(value: Any, expression: Mapping[str, Any]) -> Any:
    """``value`` transformed by each operation of ``expression`` in order; ``value`` itself is never mutated.

    An operation that does not apply to the current value's type leaves it unchanged. Raises ``ValueError`` for an
    expression that :func:`check_expression` would reject, and ``TypeError`` when ``sum`` meets a non-number.
    """
    problems = check_expression(expression, "transform expression")
    if problems:
        raise ValueError("; ".join(problems))
    for name, argument in expression.items():
        operation = _OPERATIONS[name]
        if isinstance(value, operation.applies_to):
            value = operation.run(value, argument)
    return value


def check_expression(expression: Any, where: str) -> list[str]:
    """Load-time problems with a transform ``expression`` (``[]`` when it is fine), each starting with ``where``."""
    if not isinstance(expression, Mapping):
        return [
            f"{where}: a transform expression must be a mapping of operation to argument "
            f"(e.g. {{map: name}}), got {_describe(expression)}"
        ]
    problems: list[str] = []
    for name, argument in expression.items():
        operation = _OPERATIONS.get(name) if isinstance(name, str) else None
        if operation is None:
            valid = ", ".join(sorted(OPERATIONS))
            problems.append(f"{where}: unknown transform operation {name!r}; valid operations: {valid}")
        elif not operation.accepts(argument):
            expected = operation.expected.replace("'op", f"'{name}")
            problems.append(f"{where}.{name}: expected {expected}, got {_describe(argument)}")
    return problems


def _describe(value: Any) -> str:
    """A short description of a wrong value for messages: its repr (shortened) and type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
