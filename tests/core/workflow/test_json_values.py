"""``same_json``: JSON values compared as a database gives them back (numbers by decimal value)."""

from __future__ import annotations

from typing import Any

import pytest

from packs.core.workflow.json_values import same_json


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (1e300, 10**300),  # jsonb's numeric, read back as an integer
        (1e16, 10_000_000_000_000_000),
        (-0.0, 0.0),
        (1.5, 1.5),
        (0.1, 0.1),
        ({"a": [1e300, {"b": 2.0}]}, {"a": [10**300, {"b": 2}]}),
        ("text", "text"),
        (None, None),
        (True, True),
    ],
)
def test_the_same_values(first: Any, second: Any) -> None:
    assert same_json(first, second)
    assert same_json(second, first)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (1e300, 10**300 + 1),
        (0.1, 0.10000000000000002),
        (True, 1),  # a boolean is no number
        (False, 0),
        (None, 0),
        ("1", 1),
        ({"a": 1}, {"a": 1, "b": 2}),
        ({"a": 1}, {"b": 1}),
        ([1, 2], [1, 2, 3]),
        ([1, 2], [2, 1]),
        ({"a": 1}, [1]),
    ],
)
def test_different_values(first: Any, second: Any) -> None:
    assert not same_json(first, second)
    assert not same_json(second, first)
