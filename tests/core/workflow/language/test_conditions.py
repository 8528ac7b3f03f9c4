"""Conditions: every operator, evaluation (references, errors -> false) and load-time checks."""

from __future__ import annotations

import re
from typing import Any

import pytest

from packs.core.workflow.language.conditions import OPERATORS, check_condition, compile_pattern, evaluate

WHERE = "step 'route_it' routes[0].when"


def holds(actual: Any, op: str, value: Any = None) -> bool:
    """Evaluate ``{field: subject, op, value}`` with ``subject`` = ``actual``."""
    condition: dict[str, Any] = {"field": "subject", "op": op}
    if value is not None:
        condition["value"] = value
    return evaluate(condition, {"subject": actual})


def test_exactly_the_sixteen_operators() -> None:
    assert set(OPERATORS) == {
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "not_in",
        "contains",
        "starts_with",
        "ends_with",
        "matches",
        "exists",
        "empty",
        "truthy",
        "falsy",
    }


@pytest.mark.parametrize(
    ("actual", "op", "value", "expected"),
    [
        # eq / neq
        ("active", "eq", "active", True),
        ("active", "eq", "inactive", False),
        (3, "eq", 3, True),
        (3, "eq", 3.0, True),
        (3, "eq", "3", False),
        ({"a": [1]}, "eq", {"a": [1]}, True),
        ("active", "neq", "inactive", True),
        ("active", "neq", "active", False),
        (None, "neq", "x", True),
        # numeric comparisons
        (5, "gt", 3, True),
        (3, "gt", 3, False),
        ("10", "gt", 9, True),
        (10, "gt", "9", True),
        ("10", "gt", "9", True),
        (3, "gte", 3, True),
        (2.5, "gte", 3, False),
        (2, "lt", 3, True),
        (3, "lt", 3, False),
        (3, "lte", 3, True),
        (4, "lte", 3.5, False),
        # in / not_in
        ("b", "in", ["a", "b"], True),
        ("c", "in", ["a", "b"], False),
        ("ell", "in", "hello", True),
        ("key", "in", {"key": 1}, True),
        ("c", "not_in", ["a", "b"], True),
        ("b", "not_in", ["a", "b"], False),
        # contains
        (["a", "b"], "contains", "b", True),
        (["a", "b"], "contains", "c", False),
        ("hello", "contains", "ell", True),
        ("hello", "contains", "xyz", False),
        ({"key": 1}, "contains", "key", True),
        ({"key": 1}, "contains", "other", False),
        ({"key": 1}, "contains", 1, False),
        # starts_with / ends_with
        ("hello", "starts_with", "he", True),
        ("hello", "starts_with", "lo", False),
        ("hello", "ends_with", "lo", True),
        ("hello", "ends_with", "he", False),
        (["he", "llo"], "starts_with", "he", False),
        (123, "starts_with", "1", False),
        ("hello", "starts_with", 1, False),
        # matches
        ("order-123", "matches", r"^order-\d+$", True),
        ("order-abc", "matches", r"^order-\d+$", False),
        ("xx-42-yy", "matches", r"\d+", True),
        (12345, "matches", r"^\d{5}$", True),
        (True, "matches", "^True$", True),
        (None, "matches", ".*", False),
    ],
)
def test_operators(actual: Any, op: str, value: Any, expected: bool) -> None:
    assert holds(actual, op, value) is expected


@pytest.mark.parametrize(
    ("actual", "exists", "empty", "truthy", "falsy"),
    [
        (None, False, True, False, True),
        (False, True, False, False, True),
        (True, True, False, True, False),
        (0, True, False, True, False),
        (0.0, True, False, True, False),
        ("", True, True, True, False),
        ([], True, True, True, False),
        ({}, True, True, True, False),
        ("x", True, False, True, False),
        ([0], True, False, True, False),
        ({"a": None}, True, False, True, False),
    ],
)
def test_unary_operators(actual: Any, exists: bool, empty: bool, truthy: bool, falsy: bool) -> None:
    assert holds(actual, "exists") is exists
    assert holds(actual, "empty") is empty
    assert holds(actual, "truthy") is truthy
    assert holds(actual, "falsy") is falsy


def test_truthy_is_false_for_false_unlike_the_gem() -> None:
    """Unlike Ruby's durable_workflow (docs/workflow-language.md, section 8), ``truthy`` is false for ``false``."""
    assert OPERATORS["truthy"](False, None) is False
    assert OPERATORS["falsy"](False, None) is True


@pytest.mark.parametrize(
    ("actual", "op", "value"),
    [
        (None, "gt", 3),
        ("abc", "gt", 3),
        (5, "gt", "abc"),
        ([1], "lt", 3),
        ({"a": 1}, "gte", 0),
        (5, "lte", None),
        ("x", "in", None),
        ("x", "not_in", None),
        (3, "in", "abc"),
        (3, "not_in", "abc"),
        ("x", "not_in", 42),
        ("hello", "contains", 1),
        (None, "contains", "x"),
        (42, "contains", 4),
        ("x", "matches", "(unclosed"),
        ("x", "matches", 3),
    ],
)
def test_an_evaluation_that_raises_is_false(actual: Any, op: str, value: Any) -> None:
    assert holds(actual, op, value) is False


@pytest.mark.parametrize(
    ("actual", "op", "value"),
    [(None, "gt", 3), ("x", "in", None), (3, "in", "abc"), (42, "contains", 4), ("x", "matches", "(unclosed")],
)
def test_the_operators_themselves_raise_for_those(actual: Any, op: str, value: Any) -> None:
    with pytest.raises((TypeError, ValueError, re.error)):
        OPERATORS[op](actual, value)


@pytest.mark.parametrize(
    "condition",
    [
        {"op": "eq", "value": 1},
        {"field": "subject", "value": 1},
        {"field": "subject", "op": "bogus", "value": 1},
        {"field": 3, "op": "eq", "value": 1},
        {},
    ],
)
def test_a_malformed_condition_evaluates_false(condition: dict[str, Any]) -> None:
    assert evaluate(condition, {"subject": 1}) is False


# --- field and value references ----------------------------------------------------------------------------------

VARIABLES: dict[str, Any] = {
    "input": {"amount": 150, "status": "open", "tags": ["vip", "new"], "items": [{"sku": "A1"}]},
    "limit": 100,
    "allowed": ["open", "pending"],
    "prefix": "op",
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "input.amount", "op": "gt", "value": "$limit"}, True),
        ({"field": "input.amount", "op": "lt", "value": "$limit"}, False),
        ({"field": "input.status", "op": "in", "value": "$allowed"}, True),
        ({"field": "input.status", "op": "starts_with", "value": "$prefix"}, True),
        ({"field": "input.status", "op": "eq", "value": "$prefix.en"}, False),
        ({"field": "input.status", "op": "eq", "value": "${prefix}"}, False),
        ({"field": "input.status", "op": "eq", "value": "$prefix" + "en"}, False),
        ({"field": "input.tags", "op": "contains", "value": "vip"}, True),
        ({"field": "input.tags.1", "op": "eq", "value": "new"}, True),
        ({"field": "input.items.0.sku", "op": "eq", "value": "A1"}, True),
        ({"field": "input.missing", "op": "exists"}, False),
        ({"field": "input.missing", "op": "eq", "value": None}, True),
        ({"field": "input.missing", "op": "eq"}, True),
        ({"field": "missing.deep.path", "op": "falsy"}, True),
        ({"field": "input.status", "op": "eq", "value": "$missing"}, False),
        ({"field": "input.amount", "op": "gt", "value": "$missing"}, False),
    ],
)
def test_fields_are_looked_up_and_values_resolved(condition: dict[str, Any], expected: bool) -> None:
    assert evaluate(condition, VARIABLES) is expected


def test_an_interpolated_value_is_compared_as_text() -> None:
    condition = {"field": "label", "op": "eq", "value": "limit=$limit"}
    assert evaluate(condition, {"label": "limit=100", "limit": 100}) is True


def test_a_matches_pattern_is_used_literally_not_resolved() -> None:
    condition = {"field": "text", "op": "matches", "value": r"^\$price"}
    assert evaluate(condition, {"text": "$price is right", "price": 5}) is True
    assert evaluate(condition, {"text": "5 is right", "price": 5}) is False


def test_matches_compiles_each_pattern_once() -> None:
    compile_pattern.cache_clear()
    for text in ["a1", "b2", "cc"]:
        evaluate({"field": "t", "op": "matches", "value": "[0-9]"}, {"t": text})
    info = compile_pattern.cache_info()
    assert info.misses == 1
    assert info.hits == 2


def test_evaluate_does_not_mutate() -> None:
    condition = {"field": "input.tags", "op": "contains", "value": "$prefix"}
    before_condition = dict(condition)
    tags = list(VARIABLES["input"]["tags"])
    evaluate(condition, VARIABLES)
    assert condition == before_condition
    assert VARIABLES["input"]["tags"] == tags


# --- check_condition -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "input.amount", "op": "gt", "value": 100},
        {"field": "input.amount", "op": "gt", "value": "$limit"},
        {"field": "input.items.0.sku", "op": "eq", "value": "A1"},
        {"field": "_x", "op": "exists"},
        {"field": "x", "op": "matches", "value": r"^\d+$"},
        {"field": "x", "op": "matches", "value": r"^\$price"},
        *({"field": "x", "op": op, "value": 1} for op in sorted(OPERATORS) if op != "matches"),
    ],
)
def test_check_accepts_valid_conditions(condition: dict[str, Any]) -> None:
    assert check_condition(condition, WHERE) == []


@pytest.mark.parametrize(
    ("condition", "fragments"),
    [
        ("input.x == 1", ["must be a mapping", "'input.x == 1' (str)"]),
        (["field", "op"], ["must be a mapping", "(list)"]),
        (None, ["must be a mapping", "(NoneType)"]),
        ({"op": "eq", "value": 1}, ["missing 'field'", "input.status"]),
        ({"field": "x", "value": 1}, ["missing 'op'", "eq, neq, gt"]),
        ({"field": "x", "op": "eq", "valu": 1}, ["unknown key(s) 'valu'", "'field', 'op' and 'value'"]),
        ({"field": "x", "op": "equals", "value": 1}, [".op: unknown operator 'equals'", "eq, neq", "falsy"]),
        ({"field": "x", "op": 3}, [".op: unknown operator 3"]),
        ({"field": 3, "op": "eq"}, [".field: must be a reference path string", "3 (int)"]),
        ({"field": "$input.x", "op": "eq"}, [".field: write the path without '$'", "'input.x'"]),
        ({"field": "input..x", "op": "eq"}, [".field: 'input..x' is not a reference path"]),
        ({"field": "0abc", "op": "eq"}, [".field: '0abc' is not a reference path"]),
        ({"field": "x", "op": "matches", "value": "$pattern"}, [".value: a 'matches' pattern must be a literal"]),
        ({"field": "x", "op": "matches", "value": 42}, [".value: a 'matches' pattern must be a literal", "(int)"]),
        ({"field": "x", "op": "matches"}, [".value: a 'matches' pattern must be a literal", "(NoneType)"]),
        (
            {"field": "x", "op": "matches", "value": "(unclosed"},
            [".value: invalid regular expression '(unclosed'", "missing ), unterminated subpattern"],
        ),
        ({"field": "x", "op": "matches", "value": "[z-a]"}, ["invalid regular expression", "bad character range"]),
    ],
)
def test_check_reports_what_is_wrong_and_where(condition: Any, fragments: list[str]) -> None:
    problems = check_condition(condition, WHERE)
    assert len(problems) == 1, problems
    assert problems[0].startswith(WHERE)
    for fragment in fragments:
        assert fragment in problems[0]


def test_check_reports_every_problem() -> None:
    problems = check_condition({"field": "$x", "op": "nope", "extra": 1}, WHERE)
    assert len(problems) == 3
    assert all(problem.startswith(WHERE) for problem in problems)


def test_every_operator_is_listed_when_the_op_is_unknown() -> None:
    (problem,) = check_condition({"field": "x", "op": "nope"}, WHERE)
    for op in OPERATORS:
        assert op in problem
