"""A schedule's fields as a caller gives them (docs/http-api.md, Schedules), checked: every problem is a
:class:`~packs.core.tools.errors.ValidationError` whose ``details`` name the field (an HTTP 422)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packs.core.models.schedule import CATCH_UP_POLICIES, OVERLAP_POLICIES
from packs.core.schedules.calendar import Calendar, CalendarError, zone_named
from packs.core.tools.errors import ValidationError

MAX_SECONDS = 10 * 366 * 86400
"""The largest ``every`` and ``catch_up_window``: ten years."""

MAX_JITTER_SECONDS = 86400
"""The largest ``jitter``: a day."""

DEFAULTS: dict[str, Any] = {
    "timezone": "UTC",
    "input": {},
    "overlap": "skip",
    "catch_up": "latest",
    "catch_up_window": 86400,
    "jitter": 0,
    "paused": False,
}
"""What a new schedule has for the fields its creator leaves out."""

FIELDS = ("cron", "every", "timezone", "input", "overlap", "catch_up", "catch_up_window", "jitter", "paused")
"""The fields a caller may give."""


@dataclass(frozen=True)
class ScheduleFields:
    """The checked fields of a create (all of them, defaults filled) or a change (only those given)."""

    values: dict[str, Any] = field(default_factory=dict)

    def calendar(self, current: Mapping[str, Any] | None = None) -> Calendar:
        """The calendar these fields make, over ``current`` ones (a change gives ``cron`` or ``every``, not both)."""
        merged = dict(current or {})
        if "cron" in self.values or "every" in self.values:
            merged["cron"], merged["every"] = self.values.get("cron"), self.values.get("every")
        merged.update({key: self.values[key] for key in ("timezone",) if key in self.values})
        return Calendar(cron=merged.get("cron"), every=merged.get("every"), timezone=merged.get("timezone", "UTC"))


def _whole(name: str, value: Any, low: int, high: int, problems: dict[str, str]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems[name] = f"must be a whole number of seconds, got {value!r}"
    elif not low <= value <= high:
        problems[name] = f"must be from {low} to {high} seconds, got {value}"


def _one_of(name: str, value: Any, allowed: tuple[str, ...], problems: dict[str, str]) -> None:
    if value not in allowed:
        problems[name] = f"must be one of {', '.join(allowed)}, got {value!r}"


def checked_fields(
    body: Mapping[str, Any], *, creating: bool, current: Mapping[str, Any] | None = None
) -> ScheduleFields:
    """The fields of ``body`` (a JSON object), checked; for a create, with the defaults filled in.

    ``current`` is the schedule's calendar fields (``cron``, ``every``, ``timezone``) for a change, so that
    the calendar the change makes is checked whole.
    """
    problems: dict[str, str] = {}
    for name in sorted(set(body) - set(FIELDS)):
        problems[name] = f"unknown field; a schedule has {', '.join(FIELDS)}"
    given = {name: body[name] for name in FIELDS if name in body}
    values = {**DEFAULTS, **given} if creating else dict(given)
    if "cron" in values and values["cron"] is not None and not isinstance(values["cron"], str):
        problems["cron"] = f"must be a five-field cron string such as '0 2 * * *', got {values['cron']!r}"
    if values.get("every") is not None:
        _whole("every", values["every"], 1, MAX_SECONDS, problems)
    if "timezone" in values and not isinstance(values["timezone"], str):
        problems["timezone"] = f"must be an IANA timezone name such as 'Europe/Paris', got {values['timezone']!r}"
    if "input" in values and not isinstance(values["input"], dict):
        problems["input"] = f"must be a JSON object, got {type(values['input']).__name__}"
    if "overlap" in values:
        _one_of("overlap", values["overlap"], OVERLAP_POLICIES, problems)
    if "catch_up" in values:
        _one_of("catch_up", values["catch_up"], CATCH_UP_POLICIES, problems)
    if "catch_up_window" in values:
        _whole("catch_up_window", values["catch_up_window"], 0, MAX_SECONDS, problems)
    if "jitter" in values:
        _whole("jitter", values["jitter"], 0, MAX_JITTER_SECONDS, problems)
    if "paused" in values and not isinstance(values["paused"], bool):
        problems["paused"] = f"must be true or false, got {values['paused']!r}"
    calendar_fields = {"cron", "every", "timezone"}
    if not problems.keys() & calendar_fields and (creating or calendar_fields & set(values)):
        if "cron" in values and "every" in values and values["cron"] is not None and values["every"] is not None:
            problems["cron"] = "give either cron (five fields) or every (seconds), not both"
        elif not creating and values.get("cron", 0) is None and values.get("every", 0) is None:
            problems["cron"] = "give either cron (five fields) or every (seconds)"
        else:
            try:
                ScheduleFields(values).calendar(current)
            except CalendarError as error:
                problems[error.field] = str(error)
            if "cron" in problems and isinstance(values.get("timezone"), str):
                try:  # the calendar stopped at its cron: its timezone may be wrong too
                    zone_named(values["timezone"])
                except CalendarError as error:
                    problems[error.field] = str(error)
    if problems:
        summary = "; ".join(f"{name}: {problem}" for name, problem in problems.items())
        raise ValidationError(f"invalid schedule: {summary}", problems)
    return ScheduleFields(values)
