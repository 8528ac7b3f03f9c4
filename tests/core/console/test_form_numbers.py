"""The console's form fields read numbers as the API's JSON spells them: ASCII digits, no ``1_0`` or ``nan``."""

from __future__ import annotations

import pytest

from packs.core.console.forms import parse, schema_fields

FIELDS = schema_fields({"properties": {"count": {"type": "integer"}, "ratio": {"type": "number"}}})


@pytest.mark.parametrize(("count", "ratio"), [("10", "2.5"), ("-3", "1e3"), ("007", "0.10"), ("0", "-0")])
def test_numbers_as_json_spells_them(count: str, ratio: str) -> None:
    submitted = parse(FIELDS, {"count": count, "ratio": ratio})
    assert submitted.errors == {}
    assert submitted.values == {"count": int(count), "ratio": float(ratio)}
    assert isinstance(submitted.values["count"], int)


@pytest.mark.parametrize("text", ["\u0661\u0660", "\uff11\uff10", "1_0", "+1", "1.0", "1e2", "0x10", "ten"])
def test_a_whole_number_is_ascii_digits(text: str) -> None:
    assert parse(FIELDS, {"count": text}).errors == {"count": "Enter a whole number."}


@pytest.mark.parametrize(
    "text", ["\u0661\u0660", "\uff11\uff10", "1_0", "nan", "inf", "-inf", ".5", "5.", "1e", "0x10"]
)
def test_a_number_is_what_json_spells(text: str) -> None:
    assert parse(FIELDS, {"ratio": text}).errors == {"ratio": "Enter a number."}


def test_a_number_json_cannot_hold_is_refused() -> None:
    assert parse(FIELDS, {"ratio": "1e999"}).errors == {"ratio": "Enter a finite number."}
