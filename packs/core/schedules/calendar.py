"""When a schedule ticks (docs/http-api.md, Schedules): a five-field cron in an IANA timezone, or every N seconds.

A cron's fields are read on the timezone's wall clock, by croniter over naive local times, and each
matching wall time becomes one instant with :mod:`zoneinfo`'s rules:

- a wall time that a fall-back repeats fires once, at its first occurrence;
- a wall time that a spring-forward skips fires once, as far after the jump as it was after the hour
  that vanished (``30 2 * * *`` in Europe/Paris on the last Sunday of March fires at 03:30 CEST), so a
  daily job never misses a day;
- two wall times that land on the same instant fire once.

``every`` ticks are instants ``every`` seconds apart counted from the Unix epoch, whatever the timezone
(the same grid in every process, and no DST effect: use it for "every 15 minutes" in real time).
"""

from __future__ import annotations

import bisect
import datetime
import functools
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
"""Where the ``every`` grid starts."""

DST_MARGIN = datetime.timedelta(hours=3)
"""More than any timezone's offset change: how far a wall time may land from its neighbours' instants."""

MAX_WALL_TIMES = 100_000
"""A bound on the wall times looked at for one question (a cron matching rarely, e.g. 29 February, still
answers well within it)."""


class CalendarError(ValueError):
    """A schedule's ``cron``, ``every`` or ``timezone`` is not valid; :attr:`field` names which."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
"""Files of the system's zoneinfo folder that name no IANA zone (``localtime`` is this machine's own)."""


@functools.cache
def iana_zones() -> frozenset[str]:
    """The IANA timezone names this machine knows (the system's zoneinfo, or the ``tzdata`` package)."""
    return frozenset(zoneinfo.available_timezones()) - NOT_ZONES


def zone_named(name: str) -> ZoneInfo:
    """The IANA timezone ``name`` (:class:`CalendarError` on ``timezone`` when there is none): a name of
    :func:`iana_zones`, not any file under the zoneinfo folder (``right/UTC``, ``localtime``)."""
    try:
        if name not in iana_zones():
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: a name too long for a file name
        raise CalendarError(
            "timezone", f"unknown timezone {name!r}: give an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from None


RANDOM_VALUE = re.compile(r"(?<![a-z])r(?![a-z])", re.IGNORECASE)
"""croniter's ``R`` (``R``, ``R(0-30)``): a value drawn at random each time an expression is read. Month and day
names (``MAR``, ``FRI``) are not it."""


def checked_cron(expression: str) -> str:
    """``expression`` when it is a valid five-field cron (:class:`CalendarError` on ``cron`` otherwise)."""
    fields = expression.split()
    if len(fields) != 5:
        raise CalendarError(
            "cron",
            f"cron {expression!r} has {len(fields)} field(s); give five: minute hour day-of-month month "
            "day-of-week, e.g. '0 2 * * *'",
        )
    if not croniter.is_valid(expression):
        raise CalendarError("cron", f"cron {expression!r} is not valid: {_cron_problem(expression)}")
    if any(RANDOM_VALUE.search(field) for field in fields):
        raise CalendarError(
            "cron",
            f"cron {expression!r} uses R, a random value drawn again each time the cron is read: every process "
            "must agree on the ticks; write the minute (or hour, ...) itself",
        )
    try:
        croniter(expression, EPOCH.replace(tzinfo=None)).get_next(datetime.datetime)
    except CroniterBadDateError:
        raise CalendarError(
            "cron", f"cron {expression!r} never matches a date (such as 30 February): it would never run"
        ) from None
    return " ".join(fields)


def _cron_problem(expression: str) -> str:
    try:
        croniter(expression)
    except ValueError as error:
        return str(error)
    return "croniter does not accept it"  # pragma: no cover - is_valid and the constructor agree


@dataclass(frozen=True)
class Calendar:
    """The ticks of one schedule: ``cron`` (five fields) in ``timezone``, or ``every`` seconds."""

    cron: str | None = None
    every: int | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.every is None):
            raise CalendarError("cron", "give either cron (five fields) or every (seconds), not both or neither")
        if self.cron is not None:
            object.__setattr__(self, "cron", checked_cron(self.cron))
        if self.every is not None and (isinstance(self.every, bool) or self.every < 1):
            raise CalendarError("every", f"every must be a whole number of seconds of at least 1, got {self.every!r}")
        zone_named(self.timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's timezone."""
        return zone_named(self.timezone)

    def after(self, moment: datetime.datetime, count: int = 1) -> list[datetime.datetime]:
        """The first ``count`` ticks strictly after ``moment`` (aware), in UTC, oldest first."""
        if self.every is not None:
            first = self._every_index(moment) + 1
            return [EPOCH + datetime.timedelta(seconds=self.every * (first + n)) for n in range(count)]
        found: list[datetime.datetime] = []
        for wall, instant in self._cron_walk(moment):
            if instant > moment and instant not in found:
                bisect.insort(found, instant)
            if len(found) >= count and wall > self._wall(found[count - 1]) + DST_MARGIN:
                break
        return found[:count]

    def between(self, start: datetime.datetime, end: datetime.datetime, limit: int) -> list[datetime.datetime]:
        """The latest ``limit`` ticks ``t`` with ``start < t <= end``, in UTC, oldest first."""
        if end <= start:
            return []
        if self.every is not None:
            last = self._every_index(end)
            first = max(self._every_index(start) + 1, last - limit + 1)
            return [EPOCH + datetime.timedelta(seconds=self.every * index) for index in range(first, last + 1)]
        found: set[datetime.datetime] = set()
        for wall, instant in self._cron_walk(start):
            if start < instant <= end:
                found.add(instant)
            if wall > self._wall(end) + DST_MARGIN:
                break
        return sorted(found)[-limit:] if limit > 0 else []

    def _every_index(self, moment: datetime.datetime) -> int:
        assert self.every is not None
        return (moment - EPOCH) // datetime.timedelta(seconds=self.every)

    def _wall(self, moment: datetime.datetime) -> datetime.datetime:
        """``moment`` on the timezone's wall clock, naive."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _cron_walk(self, moment: datetime.datetime) -> Iterator[tuple[datetime.datetime, datetime.datetime]]:
        """The cron's matching wall times from :data:`DST_MARGIN` before ``moment`` on, each with its instant
        (UTC); at most :data:`MAX_WALL_TIMES` of them."""
        assert self.cron is not None
        zone = self.zone
        walk = croniter(self.cron, moment.astimezone(zone).replace(tzinfo=None) - DST_MARGIN)
        for _ in range(MAX_WALL_TIMES):
            wall: datetime.datetime = walk.get_next(datetime.datetime)
            # fold=0: a repeated wall time is its first occurrence; a skipped one lands after the jump by as much.
            yield wall, wall.replace(tzinfo=zone).astimezone(datetime.UTC)
