"""Load-time checks of ``wait`` steps: exactly one of ``seconds`` / ``until``, each a fitting literal or a reference.

See docs/workflow-language.md, step type ``wait``; the problems are listed with every other problem
of the file.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from packs.core.workflow.language.definition import StepDef
from packs.core.workflow.language.references import REFERENCE


def _reference(value: Any) -> bool:
    return isinstance(value, str) and REFERENCE.fullmatch(value) is not None


def _seconds(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and value >= 0


def wait_problems(step: StepDef) -> Iterator[str]:
    """Every problem of a ``wait`` step's ``seconds`` / ``until`` (nothing for other steps)."""
    if step.type != "wait":
        return
    label = f"step {step.id!r}"
    seconds, until = step.config.get("seconds"), step.config.get("until")
    if seconds is None and until is None:
        yield f"{label}: a wait needs 'seconds' (a number or a reference) or 'until' (an ISO 8601 timestamp)"
        return
    if seconds is not None and until is not None:
        yield f"{label}: a wait takes 'seconds' or 'until', not both"
        return
    if seconds is not None and not _reference(seconds) and not _seconds(seconds):
        yield f"{label} field 'seconds': expected a number of seconds (0 or more) or a reference, got {seconds!r}"
    if until is not None and not _reference(until):
        yield from _until_problems(label, until)


def _until_problems(label: str, until: Any) -> Iterator[str]:
    if not isinstance(until, str):
        yield f"{label} field 'until': expected an ISO 8601 timestamp with an offset or a reference, got {until!r}"
        return
    try:
        moment = datetime.datetime.fromisoformat(until)
    except ValueError:
        yield f"{label} field 'until': {until!r} is not an ISO 8601 timestamp (e.g. 2026-12-01T09:00:00+01:00)"
        return
    if moment.tzinfo is None:
        yield f"{label} field 'until': {until!r} has no UTC offset (add one, e.g. +01:00 or Z)"
