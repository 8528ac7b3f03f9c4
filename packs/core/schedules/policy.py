"""What a schedule does when its timer fires (docs/http-api.md, Schedules): which ticks run (catch-up), what a
tick does while an earlier run is unfinished (overlap), and the ids and jitter every process agrees on.

Pure functions of the schedule, the clock and the store's answers, so that tests give them any moment.
"""

from __future__ import annotations

import datetime
import enum
import uuid
from dataclasses import dataclass

from packs.core.schedules.calendar import Calendar

SCHEDULE_RUN_NAMESPACE = uuid.UUID("4f0c3b7e-2d1a-5e6f-9a8b-7c6d5e4f3a2b")
"""The UUID namespace of scheduled runs' execution ids (:func:`run_id`)."""

ON_TIME_SECONDS = 60.0
"""A lone due tick fired at most this late (after its jitter) is on time and runs whatever ``catch_up`` says;
later, or with other due ticks before it, the ticks were missed and ``catch_up`` decides."""

MAX_CATCH_UP_RUNS = 100
"""``catch_up: all`` runs at most the latest this many missed ticks of its window."""


def run_id(schedule_id: str, tick: datetime.datetime) -> str:
    """The execution id of ``schedule_id``'s run of ``tick``: the same in every process, so one run per tick."""
    moment = tick.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(uuid.uuid5(SCHEDULE_RUN_NAMESPACE, f"{uuid.UUID(str(schedule_id))}/{moment}"))


def jitter_of(schedule_id: str, tick: datetime.datetime, jitter: int) -> datetime.timedelta:
    """How long after ``tick`` its run starts: from 0 to ``jitter`` seconds, derived from the schedule and the
    tick (the same in every process)."""
    if jitter <= 0:
        return datetime.timedelta(0)
    spread = uuid.UUID(run_id(schedule_id, tick)).int % (jitter * 1000 + 1)
    return datetime.timedelta(milliseconds=spread)


@dataclass(frozen=True)
class TickPlan:
    """What one firing decides: the ticks to run (oldest first), the last tick handled, the next one to wait for."""

    runs: list[datetime.datetime]
    last_tick: datetime.datetime
    next_tick: datetime.datetime
    missed: list[datetime.datetime]
    """Due ticks that do not run (``catch_up: none``, or older than the window or than ``latest``)."""


def plan_ticks(
    calendar: Calendar,
    *,
    last_tick: datetime.datetime,
    now: datetime.datetime,
    catch_up: str,
    catch_up_window: int,
    on_time: float = ON_TIME_SECONDS,
    jitter: datetime.timedelta = datetime.timedelta(0),
) -> TickPlan:
    """The ticks due since ``last_tick`` (``last_tick < t <= now``), which of them run, and the next tick.

    A lone due tick at most ``on_time`` seconds late (beyond ``jitter``, the most its start may be delayed)
    runs. Otherwise the due ticks were missed (every process was down, or the timer fired later than the
    next tick): ``none`` runs none of them, ``latest`` the last one, ``all`` each one in order; ``latest``
    and ``all`` only run ticks at most ``catch_up_window`` seconds old.
    """
    window = datetime.timedelta(seconds=catch_up_window)
    lateness = datetime.timedelta(seconds=on_time) + jitter
    horizon = max(window, lateness)
    lower = max(last_tick, now - horizon)
    due = calendar.between(lower, now, MAX_CATCH_UP_RUNS + 1)
    older = lower > last_tick and calendar.after(last_tick, 1)[0] <= lower
    next_tick = calendar.after(now, 1)[0]
    if not due:
        return TickPlan([], last_tick if not older else lower, next_tick, [])
    if len(due) == 1 and not older and now - due[0] <= lateness:
        return TickPlan(due, due[-1], next_tick, [])
    recent = [tick for tick in due if now - tick <= window]
    if catch_up == "all":
        runs = recent[-MAX_CATCH_UP_RUNS:]
    elif catch_up == "latest":
        runs = recent[-1:]
    else:
        runs = []
    return TickPlan(runs, due[-1], next_tick, [tick for tick in due if tick not in runs])


class OverlapAction(enum.StrEnum):
    """What a tick does about its schedule's unfinished runs."""

    START = "start"
    SKIP = "skip"
    BUFFER = "buffer"
    CANCEL_AND_START = "cancel_and_start"


def overlap_action(policy: str, *, unfinished: bool, buffered: bool = False) -> OverlapAction:
    """``skip``: nothing while a run is unfinished; ``buffer_one``: keep one tick (a second is dropped) to
    start when the run ends; ``allow_all``: start anyway; ``cancel_other``: cancel the unfinished runs, then
    start."""
    if not unfinished or policy == "allow_all":
        return OverlapAction.START
    if policy == "cancel_other":
        return OverlapAction.CANCEL_AND_START
    if policy == "buffer_one" and not buffered:
        return OverlapAction.BUFFER
    return OverlapAction.SKIP
