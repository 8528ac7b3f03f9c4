"""Transform expressions: every operation, type mismatches, ordering, no mutation, and load-time checks."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from packs.core.workflow.language.transforms import OPERATIONS, apply, check_expression

WHERE = "step 'shape' expression"

PEOPLE: list[dict[str, Any]] = [
    {"name": "Ada", "role": "admin", "age": 36, "address": {"city": "London"}, "tags": ["a", "b"]},
    {"name": "Bob", "role": "user", "age": 25, "address": {"city": "Paris"}, "tags": ["b"]},
    {"name": "Cy", "role": "user", "age": None, "address": None, "tags": []},
]


def test_the_operations() -> None:
    assert {
        "map",
        "pluck",
        "select",
        "reject",
        "first",
        "last",
        "flatten",
        "compact",
        "uniq",
        "reverse",
        "sort",
        "count",
        "sum",
        "keys",
        "values",
        "pick",
        "omit",
        "merge",
    } == OPERATIONS


# --- list operations ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expression", "expected"),
    [
        # map / pluck
        (PEOPLE, {"map": "name"}, ["Ada", "Bob", "Cy"]),
        (PEOPLE, {"map": "address.city"}, ["London", "Paris", None]),
        (PEOPLE, {"pluck": "address.city"}, ["London", "Paris", None]),
        (PEOPLE, {"map": "tags.0"}, ["a", "b", None]),
        ([[1, 2], [3], 4], {"map": "0"}, [1, 3, None]),
        (PEOPLE, {"map": "missing"}, [None, None, None]),
        # select / reject
        (PEOPLE, {"select": {"role": "user"}, "map": "name"}, ["Bob", "Cy"]),
        (PEOPLE, {"select": {"role": "user", "age": 25}, "map": "name"}, ["Bob"]),
        (PEOPLE, {"select": {"address.city": "London"}, "map": "name"}, ["Ada"]),
        (PEOPLE, {"select": {"age": None}, "map": "name"}, ["Cy"]),
        (PEOPLE, {"select": {}, "map": "name"}, ["Ada", "Bob", "Cy"]),
        (PEOPLE, {"reject": {"role": "user"}, "map": "name"}, ["Ada"]),
        (PEOPLE, {"reject": {"role": "user", "age": 25}, "map": "name"}, ["Ada", "Cy"]),
        ([1, {"a": 1}, "x"], {"select": {"a": 1}}, [{"a": 1}]),
        # first / last
        ([1, 2, 3], {"first": 2}, [1, 2]),
        ([1, 2, 3], {"first": None}, [1]),
        ([1, 2, 3], {"first": True}, [1]),
        ([1, 2, 3], {"first": 0}, []),
        ([1, 2, 3], {"first": 10}, [1, 2, 3]),
        ([], {"first": 1}, []),
        ([1, 2, 3], {"last": 2}, [2, 3]),
        ([1, 2, 3], {"last": None}, [3]),
        ([1, 2, 3], {"last": True}, [3]),
        ([1, 2, 3], {"last": 0}, []),
        ([1, 2, 3], {"last": 10}, [1, 2, 3]),
        ([], {"last": None}, []),
        # flatten
        ([1, [2, [3, [4]]], 5], {"flatten": None}, [1, 2, [3, [4]], 5]),
        ([1, [2, [3, [4]]], 5], {"flatten": True}, [1, 2, [3, [4]], 5]),
        ([1, [2, [3, [4]]], 5], {"flatten": 2}, [1, 2, 3, [4], 5]),
        ([1, [2, [3, [4]]], 5], {"flatten": 10}, [1, 2, 3, 4, 5]),
        ([1, [2]], {"flatten": 0}, [1, [2]]),
        ([[], [[]]], {"flatten": 1}, [[]]),
        ([{"a": [1]}, [{"b": 2}]], {"flatten": 1}, [{"a": [1]}, {"b": 2}]),
        # compact
        ([1, None, 0, "", False, None, []], {"compact": None}, [1, 0, "", False, []]),
        ([None], {"compact": True}, []),
        # uniq
        ([3, 1, 3, 2, 1], {"uniq": None}, [3, 1, 2]),
        (["b", "a", "b"], {"uniq": True}, ["b", "a"]),
        ([{"a": 1}, {"a": 2}, {"a": 1}], {"uniq": None}, [{"a": 1}, {"a": 2}]),
        ([[1], [2], [1], 1], {"uniq": None}, [[1], [2], 1]),
        ([1, True, 1, True, None, None], {"uniq": None}, [1, True, None]),
        ([{"a": 1}, 1, {"a": 1}, 1], {"uniq": None}, [{"a": 1}, 1]),
        # reverse
        ([1, 2, 3], {"reverse": None}, [3, 2, 1]),
        ([], {"reverse": True}, []),
        # sort
        ([3, 1, 2], {"sort": None}, [1, 2, 3]),
        (["b", "c", "a"], {"sort": True}, ["a", "b", "c"]),
        ([3, None, 1, None, 2], {"sort": None}, [1, 2, 3, None, None]),
        (PEOPLE, {"sort": "age", "map": "name"}, ["Bob", "Ada", "Cy"]),
        (PEOPLE, {"sort": "address.city", "map": "name"}, ["Ada", "Bob", "Cy"]),
        (PEOPLE, {"sort": "name", "reverse": None, "map": "name"}, ["Cy", "Bob", "Ada"]),
        ([{"k": 2, "i": 0}, {"k": 1, "i": 1}, {"k": 2, "i": 2}], {"sort": "k", "map": "i"}, [1, 0, 2]),
        ([3, "a", 1], {"sort": None}, [3, "a", 1]),
        ([{"a": 1}, {"a": 0}], {"sort": None}, [{"a": 1}, {"a": 0}]),
        ([{"k": "x"}, {"k": 1}, {"k": None}], {"sort": "k"}, [{"k": "x"}, {"k": 1}, {"k": None}]),
        ([2.5, True, 1], {"sort": None}, [True, 1, 2.5]),
        # count
        ([1, 2, 3], {"count": None}, 3),
        ([], {"count": True}, 0),
        ({"a": 1, "b": 2}, {"count": None}, 2),
        ("hello", {"count": None}, 5),
        (PEOPLE, {"select": {"role": "user"}, "count": None}, 2),
        # sum
        ([1, 2, 3], {"sum": None}, 6),
        ([1, 2.5], {"sum": True}, 3.5),
        ([1, None, 2], {"sum": None}, 3),
        ([], {"sum": None}, 0),
        (PEOPLE, {"sum": "age"}, 61),
        ([{"p": {"v": 1}}, {"p": {"v": 2}}, {"p": None}], {"sum": "p.v"}, 3),
    ],
)
def test_list_operations(value: Any, expression: dict[str, Any], expected: Any) -> None:
    assert apply(value, expression) == expected


def test_results_keep_their_types() -> None:
    assert apply([1, 2], {"sum": None}) == 3
    assert isinstance(apply([1, 2], {"sum": None}), int)
    assert isinstance(apply([1.0, 2], {"sum": None}), float)
    assert apply([True, 1], {"uniq": None})[0] is True


def test_tuples_are_treated_as_lists() -> None:
    assert apply((3, 1, 2), {"sort": None}) == [1, 2, 3]
    assert apply((1, (2, 3)), {"flatten": None}) == [1, 2, 3]
    assert apply((1, 2), {"count": None}) == 2


@pytest.mark.parametrize(
    ("value", "expression", "message"),
    [
        ([1, "2"], {"sum": None}, "sum: item 1 is '2' (str), not a number"),
        ([1, True], {"sum": None}, "sum: item 1 is True (bool), not a number"),
        ([{"n": 1}, {"n": [2]}], {"sum": "n"}, "sum: 'n' of item 1 is [2] (list), not a number"),
    ],
)
def test_sum_of_non_numbers_fails_naming_the_item(value: Any, expression: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError) as caught:
        apply(value, expression)
    assert str(caught.value) == message


# --- dict operations ---------------------------------------------------------------------------------------------

RECORD: dict[str, Any] = {"id": 1, "name": "Ada", "password": "x", "meta": {"a": 1}}


@pytest.mark.parametrize(
    ("value", "expression", "expected"),
    [
        (RECORD, {"keys": None}, ["id", "name", "password", "meta"]),
        (RECORD, {"values": True}, [1, "Ada", "x", {"a": 1}]),
        ({}, {"keys": None}, []),
        (RECORD, {"pick": ["name", "id"]}, {"name": "Ada", "id": 1}),
        (RECORD, {"pick": ["name", "missing"]}, {"name": "Ada"}),
        (RECORD, {"pick": []}, {}),
        (RECORD, {"omit": ["password", "meta"]}, {"id": 1, "name": "Ada"}),
        (RECORD, {"omit": ["missing"]}, RECORD),
        (RECORD, {"merge": {"name": "Bob", "role": "user"}}, {**RECORD, "name": "Bob", "role": "user"}),
        (RECORD, {"merge": {}}, RECORD),
        (RECORD, {"omit": ["password"], "keys": None, "count": None}, 3),
        (RECORD, {"pick": ["meta"], "values": None, "first": None}, [{"a": 1}]),
    ],
)
def test_dict_operations(value: Any, expression: dict[str, Any], expected: Any) -> None:
    assert apply(value, expression) == expected


def test_pick_keeps_the_order_asked_for() -> None:
    assert list(apply(RECORD, {"pick": ["name", "id"]})) == ["name", "id"]


def test_merge_is_shallow_and_the_argument_wins() -> None:
    assert apply({"a": {"x": 1}, "b": 1}, {"merge": {"a": {"y": 2}}}) == {"a": {"y": 2}, "b": 1}


# --- order, type mismatches, no mutation -------------------------------------------------------------------------


def test_operations_apply_in_the_order_written() -> None:
    value = [3, 1, 2, 5, 4]
    assert apply(value, {"sort": None, "first": 2}) == [1, 2]
    assert apply(value, {"first": 2, "sort": None}) == [1, 3]
    assert apply(value, {"reverse": None, "last": 2}) == [1, 3]


def test_an_empty_expression_is_the_identity() -> None:
    assert apply(RECORD, {}) is RECORD


LIST_ONLY = [
    "map",
    "pluck",
    "select",
    "reject",
    "first",
    "last",
    "flatten",
    "compact",
    "uniq",
    "reverse",
    "sort",
    "sum",
]
DICT_ONLY = ["keys", "values", "pick", "omit", "merge"]
ARGUMENTS: dict[str, Any] = {
    "map": "a",
    "pluck": "a",
    "select": {"a": 1},
    "reject": {"a": 1},
    "first": 1,
    "last": 1,
    "flatten": 1,
    "sort": "a",
    "sum": "a",
    "pick": ["a"],
    "omit": ["a"],
    "merge": {"a": 2},
}


@pytest.mark.parametrize("op", LIST_ONLY)
@pytest.mark.parametrize("value", [{"a": 1, "b": None}, "text", 42, 1.5, None, True])
def test_list_operations_leave_other_types_unchanged(op: str, value: Any) -> None:
    assert apply(value, {op: ARGUMENTS.get(op)}) == value


@pytest.mark.parametrize("op", DICT_ONLY)
@pytest.mark.parametrize("value", [[{"a": 1}], ["a"], "text", 42, None, False])
def test_dict_operations_leave_other_types_unchanged(op: str, value: Any) -> None:
    assert apply(value, {op: ARGUMENTS.get(op)}) == value


@pytest.mark.parametrize("value", [42, 1.5, None, True])
def test_count_leaves_values_without_a_length_unchanged(value: Any) -> None:
    assert apply(value, {"count": None}) == value


def test_a_skipped_operation_does_not_stop_the_rest() -> None:
    assert apply({"a": 1, "b": 2}, {"first": 1, "keys": None, "reverse": None}) == ["b", "a"]


EVERY_OPERATION_ON_LISTS: list[dict[str, Any]] = [
    {"map": "a.b"},
    {"select": {"a.b": 1}},
    {"reject": {"a.b": 1}},
    {"first": 2},
    {"last": 2},
    {"flatten": 3},
    {"compact": None},
    {"uniq": None},
    {"reverse": None},
    {"sort": "a.b"},
    {"sort": None},
    {"count": None},
    {"sum": "a.b"},
]
EVERY_OPERATION_ON_DICTS: list[dict[str, Any]] = [
    {"keys": None},
    {"values": None},
    {"pick": ["a"]},
    {"omit": ["a"]},
    {"merge": {"a": {"b": 9}, "z": [1]}},
    {"count": None},
]


@pytest.mark.parametrize("expression", EVERY_OPERATION_ON_LISTS)
def test_list_operations_never_mutate_their_input(expression: dict[str, Any]) -> None:
    value: list[Any] = [{"a": {"b": 2}}, None, {"a": {"b": 1}}, [[{"a": {"b": 1}}]], {"a": {"b": 2}}]
    if "sum" in expression:
        value = [{"a": {"b": 2}}, None, {"a": {"b": 1}}]
    original = copy.deepcopy(value)
    result = apply(value, expression)
    assert value == original
    if isinstance(result, list):
        result.append("extra")
        assert value == original


@pytest.mark.parametrize("expression", EVERY_OPERATION_ON_DICTS)
def test_dict_operations_never_mutate_their_input(expression: dict[str, Any]) -> None:
    value: dict[str, Any] = {"a": {"b": 1}, "c": [1, 2]}
    original = copy.deepcopy(value)
    argument_before = copy.deepcopy(expression)
    result = apply(value, expression)
    assert value == original
    assert expression == argument_before
    if isinstance(result, dict):
        result["extra"] = 1
        assert value == original


def test_apply_rejects_an_invalid_expression() -> None:
    with pytest.raises(ValueError, match="unknown transform operation 'shuffle'"):
        apply([1, 2], {"shuffle": None})
    with pytest.raises(ValueError, match=r"transform expression\.first: expected a non-negative integer"):
        apply([1, 2], {"first": "x"})


# --- check_expression ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        {},
        {"map": "a.b.0"},
        {"pluck": "first-name"},
        {"select": {"status": "active", "address.city": None}, "reject": {"a": [1]}},
        {"first": None, "last": True, "flatten": 0},
        {"first": 3, "last": 0, "flatten": 2},
        {"compact": None, "uniq": True, "reverse": None, "count": True, "keys": None, "values": None},
        {"sort": None, "sum": True},
        {"sort": "a.b", "sum": "price"},
        {"pick": ["a", "b"], "omit": [], "merge": {"a": 1}},
    ],
)
def test_check_accepts_valid_expressions(expression: dict[str, Any]) -> None:
    assert check_expression(expression, WHERE) == []


@pytest.mark.parametrize(
    ("expression", "fragments"),
    [
        (["map", "name"], [": a transform expression must be a mapping", "(list)"]),
        ("map: name", [": a transform expression must be a mapping", "(str)"]),
        (None, [": a transform expression must be a mapping", "(NoneType)"]),
        ({"shuffle": None}, [": unknown transform operation 'shuffle'", "valid operations: compact, count, first"]),
        ({1: None}, [": unknown transform operation 1"]),
        ({"map": None}, [".map: expected a path string", "None (NoneType)"]),
        ({"map": 3}, [".map: expected a path string", "3 (int)"]),
        ({"map": ""}, [".map: expected a path string"]),
        ({"pluck": "a..b"}, [".pluck: expected a path string", "'a..b' (str)"]),
        ({"map": "$input.a"}, [".map: expected a path string", "no '$'"]),
        ({"select": [1]}, [".select: expected a mapping of path to value", "[1] (list)"]),
        ({"reject": "a"}, [".reject: expected a mapping of path to value"]),
        ({"select": {"a.": 1}}, [".select: expected a mapping of path to value"]),
        ({"first": "x"}, [".first: expected a non-negative integer", "'x' (str)"]),
        ({"first": -1}, [".first: expected a non-negative integer", "-1 (int)"]),
        ({"last": 1.5}, [".last: expected a non-negative integer", "1.5 (float)"]),
        ({"last": False}, [".last: expected a non-negative integer", "False (bool)"]),
        ({"flatten": "deep"}, [".flatten: expected a non-negative depth"]),
        ({"compact": "yes"}, [".compact: expected no argument (write 'compact:' or 'compact: true')"]),
        ({"uniq": 1}, [".uniq: expected no argument"]),
        ({"reverse": False}, [".reverse: expected no argument"]),
        ({"count": "all"}, [".count: expected no argument"]),
        ({"keys": []}, [".keys: expected no argument"]),
        ({"values": {}}, [".values: expected no argument"]),
        ({"sort": 1}, [".sort: expected a path string", "or nothing to sort by value"]),
        ({"sum": ["a"]}, [".sum: expected a path string", "or nothing to sum the items"]),
        ({"pick": 3}, [".pick: expected a list of key strings", "3 (int)"]),
        ({"pick": "a"}, [".pick: expected a list of key strings"]),
        ({"omit": ["a", 1]}, [".omit: expected a list of key strings"]),
        ({"merge": 1}, [".merge: expected a mapping", "1 (int)"]),
        ({"merge": ["a"]}, [".merge: expected a mapping"]),
    ],
)
def test_check_reports_what_is_wrong_and_where(expression: Any, fragments: list[str]) -> None:
    problems = check_expression(expression, WHERE)
    assert len(problems) == 1, problems
    assert problems[0].startswith(WHERE)
    for fragment in fragments:
        assert fragment in problems[0]


def test_check_reports_every_problem() -> None:
    problems = check_expression({"first": "x", "bogus": 1, "pick": 3, "map": "ok"}, WHERE)
    assert len(problems) == 3
    assert all(problem.startswith(WHERE) for problem in problems)


def test_check_shortens_long_values() -> None:
    (problem,) = check_expression({"merge": "x" * 500}, WHERE)
    assert len(problem) < 200
    assert "..." in problem
