"""The engine's clock: the one "now" every due-time decision reads.

See docs/workflow-language.md, Waits and durable timers.

:func:`now` answers the current UTC time; :func:`packs.core.workflow.model.utcnow` and every
timer, deadline and lease of the engine go through it. Tests replace it instead of sleeping:

    with clock.frozen(datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)) as moment:
        ...  # clock.now() answers that time
        moment.advance(seconds=3600)  # an hour later, at once

:func:`set_source` installs any function answering an aware datetime (``None`` restores the
system clock). The source is process-wide, not per task: a test freezes it for everything it runs.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Source = Callable[[], datetime.datetime]
"""A function answering the current time, timezone-aware."""


def system_now() -> datetime.datetime:
    """The system's current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.UTC)


_source: Source = system_now


def now() -> datetime.datetime:
    """The current time by the installed source (the system clock unless a test replaced it)."""
    return _source()


def set_source(source: Source | None) -> None:
    """Make ``source`` the engine's clock (``None``: the system clock again)."""
    global _source
    _source = source or system_now


class FrozenClock:
    """A clock standing still at :attr:`current` until :meth:`advance` or :meth:`set` moves it."""

    def __init__(self, start: datetime.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a frozen clock needs a timezone-aware start time")
        self.current = start.astimezone(datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.current

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime.datetime:
        """Move the clock forward (``seconds`` and any ``timedelta`` keywords); the new time."""
        self.current += datetime.timedelta(seconds=seconds, **delta)
        return self.current

    def set(self, moment: datetime.datetime) -> None:
        """Move the clock to ``moment`` (aware)."""
        self.current = moment.astimezone(datetime.UTC)


@contextmanager
def frozen(start: datetime.datetime | None = None) -> Iterator[FrozenClock]:
    """Install a :class:`FrozenClock` (at ``start``, default: now) for the block, then restore the previous one."""
    global _source
    previous = _source
    clock = FrozenClock(start or previous())
    _source = clock
    try:
        yield clock
    finally:
        _source = previous
