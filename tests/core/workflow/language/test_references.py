"""References: the pattern, path lookup, resolution (whole, interpolated, recursive) and discovery."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from packs.core.workflow.language.references import (
    REFERENCE,
    as_text,
    lookup,
    references_in,
    resolve,
    root_of,
    split_path,
    walk,
)

VARIABLES: dict[str, Any] = {
    "input": {"a": {"b": 2}, "items": [{"price": 3}, {"price": 5}], "flag": True, "none": None},
    "name": "Ada",
    "count": 3,
    "nothing": None,
    "pair": (10, 20),
    "doc": {"a": 1},
    "list": [1, "x"],
    "num": 1.5,
}


# --- the pattern ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("$x", ["x"]),
        ("$input.a.b", ["input.a.b"]),
        ("$name.a.0.b", ["name.a.0.b"]),
        ("Total: $x.total.", ["x.total"]),
        ("$x.", ["x"]),
        ("$x..y", ["x"]),
        ("$_private", ["_private"]),
        ("$a1_b2.C_3", ["a1_b2.C_3"]),
        ("($x)", ["x"]),
        ("$x-$y", ["x", "y"]),
        ("$x.a-b", ["x.a"]),
        ("$x.a b", ["x.a"]),
        ("$x.é", ["x"]),
        ("$1abc", []),
        ("$.a", []),
        ("$", []),
        ("$ x", []),
        ("no references", []),
        ("$$x", ["x"]),
    ],
)
def test_reference_pattern(text: str, paths: list[str]) -> None:
    assert [match.group(1) for match in REFERENCE.finditer(text)] == paths


# --- paths -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "segments"),
    [("a", ["a"]), ("a.b.0", ["a", "b", "0"]), ("input.items.1.price", ["input", "items", "1", "price"])],
)
def test_split_path(path: str, segments: list[str]) -> None:
    assert split_path(path) == segments


@pytest.mark.parametrize(("path", "root"), [("input", "input"), ("input.a.b", "input"), ("x.0", "x")])
def test_root_of(path: str, root: str) -> None:
    assert root_of(path) == root


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("input.a.b", 2),
        ("input.a", {"b": 2}),
        ("input.items.0.price", 3),
        ("input.items.1.price", 5),
        ("input.flag", True),
        ("name", "Ada"),
        ("count", 3),
        ("pair.1", 20),
        ("list.1", "x"),
    ],
)
def test_lookup_walks_dicts_by_key_and_lists_by_index(path: str, expected: Any) -> None:
    assert lookup(path, VARIABLES) == expected


@pytest.mark.parametrize(
    "path",
    [
        "missing",
        "missing.a",
        "input.missing",
        "input.a.missing",
        "input.a.b.c",
        "input.none.a",
        "nothing.a",
        "input.items.2",
        "input.items.99.price",
        "input.items.first",
        "input.items.-1",
        "input.items.0x1",
        "input.items.\u0661",
        "name.0",
        "name.upper",
        "count.real",
        "num.real",
        "pair.2",
    ],
)
def test_lookup_yields_none_for_anything_unreachable(path: str) -> None:
    assert lookup(path, VARIABLES) is None


def test_lookup_never_reads_attributes() -> None:
    class Thing:
        secret = "s3cret"

        def __init__(self) -> None:
            self.value = 1

    variables = {"thing": Thing()}
    assert lookup("thing.secret", variables) is None
    assert lookup("thing.value", variables) is None
    assert lookup("thing.__class__", variables) is None
    assert isinstance(lookup("thing", variables), Thing)


def test_lookup_uses_string_keys_only() -> None:
    assert lookup("d.0", {"d": {0: "int key"}}) is None
    assert lookup("d.0", {"d": {"0": "str key"}}) == "str key"


def test_walk_starts_from_the_value_itself() -> None:
    assert walk({"a": [{"b": 1}]}, ["a", "0", "b"]) == 1
    assert walk([[1, 2], [3]], ["1", "0"]) == 3
    assert walk({"a": 1}, []) == {"a": 1}
    assert walk(None, ["a"]) is None


# --- resolve: whole references -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("$input.a.b", 2),
        ("$input.a", {"b": 2}),
        ("$input.flag", True),
        ("$count", 3),
        ("$num", 1.5),
        ("$list", [1, "x"]),
        ("$nothing", None),
        ("$missing", None),
        ("$input.items.1", {"price": 5}),
    ],
)
def test_a_whole_reference_keeps_the_type(value: str, expected: Any) -> None:
    resolved = resolve(value, VARIABLES)
    assert resolved == expected
    assert type(resolved) is type(expected)


def test_a_whole_reference_is_the_value_itself() -> None:
    assert resolve("$input", VARIABLES) is VARIABLES["input"]


# --- resolve: interpolation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Hello $name!", "Hello Ada!"),
        ("Total: $input.a.b.", "Total: 2."),
        ("[$nothing]", "[]"),
        ("[$missing.deep]", "[]"),
        ("flag=$input.flag", "flag=true"),
        ("n=$count", "n=3"),
        ("x=$num", "x=1.5"),
        ("doc=$doc", 'doc={"a":1}'),
        ("list=$list", 'list=[1,"x"]'),
        ("$name and $name", "Ada and Ada"),
        ("$name$count", "Ada3"),
        (" $count", " 3"),
        ("$count ", "3 "),
        ("price: $", "price: $"),
        ("$5 off", "$5 off"),
    ],
)
def test_embedded_references_are_interpolated(value: str, expected: str) -> None:
    assert resolve(value, VARIABLES) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("a", "a"),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        ({"a": 1}, '{"a":1}'),
        ([1, None], "[1,null]"),
    ],
)
def test_as_text(value: Any, text: str) -> None:
    assert as_text(value) == text


def test_as_text_falls_back_to_str_for_what_json_cannot_hold() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    assert as_text(Opaque()) == "opaque"
    assert resolve("it is $x", {"x": Opaque()}) == "it is opaque"


@pytest.mark.parametrize("value", ["", "plain text", "costs 5 dollars", "no $ here"])
def test_strings_without_references_are_unchanged(value: str) -> None:
    assert resolve(value, VARIABLES) == value


@pytest.mark.parametrize("value", [None, 3, 1.5, True, False, (1, "$name")])
def test_other_values_are_returned_as_is(value: Any) -> None:
    assert resolve(value, VARIABLES) is value


# --- resolve: recursion ------------------------------------------------------------------------------------------


def test_dicts_and_lists_are_resolved_recursively_keys_untouched() -> None:
    value = {
        "$name": "$name",
        "nested": {"total": "$input.a.b", "items": ["$count", "n=$count", {"deep": "$input.flag"}]},
        "plain": 7,
    }
    original = copy.deepcopy(value)
    assert resolve(value, VARIABLES) == {
        "$name": "Ada",
        "nested": {"total": 2, "items": [3, "n=3", {"deep": True}]},
        "plain": 7,
    }
    assert value == original


class LazyVariables(Mapping[str, Any]):
    """A mapping that records which roots were asked for, and refuses iteration."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.asked: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.asked.append(key)
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("resolve must not iterate the variables")

    def __len__(self) -> int:
        raise AssertionError("resolve must not measure the variables")


def test_variables_may_be_lazy_only_referenced_roots_are_read() -> None:
    variables = LazyVariables({"a": 1, "b": {"c": 2}, "expensive": "never"})
    assert resolve({"x": "$a", "y": ["b.c = $b.c", "$missing"]}, variables) == {"x": 1, "y": ["b.c = 2", None]}
    assert set(variables.asked) == {"a", "b", "missing"}
    assert lookup("b.c", variables) == 2


# --- references_in ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "paths"),
    [
        ("$a", ["a"]),
        ("$a and $b.c, then $a.", ["a", "b.c", "a"]),
        ({"x": "$a", "y": {"z": ["$b", "text $c.0"]}}, ["a", "b", "c.0"]),
        (["$a", ("$b",), 3, None], ["a", "b"]),
        ({"$key": "value"}, []),
        ({"$key": "$value"}, ["value"]),
        (3, []),
        (None, []),
        ("plain", []),
    ],
)
def test_references_in(value: Any, paths: list[str]) -> None:
    assert references_in(value) == paths
