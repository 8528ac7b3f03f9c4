"""Which ticks a firing runs (catch-up, with a controllable clock: ``now`` is given), what overlap does, and
the ids and jitter every process agrees on (docs/http-api.md, Schedules)."""

from __future__ import annotations

import datetime
import uuid

import pytest

from packs.core.schedules.calendar import Calendar
from packs.core.schedules.policy import (
    MAX_CATCH_UP_RUNS,
    OverlapAction,
    jitter_of,
    overlap_action,
    plan_ticks,
    run_id,
)

UTC = datetime.UTC
EVERY_2 = Calendar(every=2)
HOURLY = Calendar(cron="0 * * * *")


def at(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def plan(calendar: Calendar, last: datetime.datetime, now: datetime.datetime, catch_up: str, window: int = 86400):
    return plan_ticks(calendar, last_tick=last, now=now, catch_up=catch_up, catch_up_window=window)


@pytest.mark.parametrize("catch_up", ["none", "latest", "all"])
def test_a_lone_tick_on_time_runs_whatever_catch_up_says(catch_up: str) -> None:
    fired = plan(
        EVERY_2, at(2026, 12, 1, 0, 0, 0), datetime.datetime(2026, 12, 1, 0, 0, 2, 400000, tzinfo=UTC), catch_up
    )
    assert fired.runs == [at(2026, 12, 1, 0, 0, 2)]
    assert fired.last_tick == at(2026, 12, 1, 0, 0, 2)
    assert fired.next_tick == at(2026, 12, 1, 0, 0, 4)
    assert fired.missed == []


def test_nothing_due_runs_nothing_and_keeps_the_last_tick() -> None:
    fired = plan(EVERY_2, at(2026, 12, 1, 0, 0, 2), datetime.datetime(2026, 12, 1, 0, 0, 3, tzinfo=UTC), "all")
    assert (fired.runs, fired.last_tick, fired.next_tick) == ([], at(2026, 12, 1, 0, 0, 2), at(2026, 12, 1, 0, 0, 4))


@pytest.mark.parametrize(
    ("catch_up", "runs"),
    [
        ("none", []),
        ("latest", [at(2026, 12, 1, 0, 0, 6)]),
        ("all", [at(2026, 12, 1, 0, 0, 2), at(2026, 12, 1, 0, 0, 4), at(2026, 12, 1, 0, 0, 6)]),
    ],
)
def test_three_ticks_missed_while_down(catch_up: str, runs: list[datetime.datetime]) -> None:
    fired = plan(EVERY_2, at(2026, 12, 1), datetime.datetime(2026, 12, 1, 0, 0, 7, tzinfo=UTC), catch_up)
    assert fired.runs == runs
    assert fired.last_tick == at(2026, 12, 1, 0, 0, 6)
    assert fired.next_tick == at(2026, 12, 1, 0, 0, 8)
    assert sorted(fired.runs + fired.missed) == [at(2026, 12, 1, 0, 0, s) for s in (2, 4, 6)]


def test_a_lone_tick_fired_long_after_it_was_due_is_missed() -> None:
    late = at(2026, 12, 1, 2, 30)  # the 02:00 run, half an hour late: the process was down
    assert plan(HOURLY, at(2026, 12, 1, 1, 30), late, "none").runs == []
    assert plan(HOURLY, at(2026, 12, 1, 1, 30), late, "latest").runs == [at(2026, 12, 1, 2)]


def test_the_catch_up_window_bounds_what_runs_and_how_far_back_ticks_are_looked_for() -> None:
    down_since = at(2026, 11, 1)
    now = at(2026, 12, 1, 12, 30)
    fired = plan(HOURLY, down_since, now, "all", window=3 * 3600)
    assert fired.runs == [at(2026, 12, 1, 10), at(2026, 12, 1, 11), at(2026, 12, 1, 12)]
    assert fired.last_tick == at(2026, 12, 1, 12)
    assert plan(HOURLY, down_since, now, "latest", window=3 * 3600).runs == [at(2026, 12, 1, 12)]
    # The latest tick itself older than the window: nothing runs, the calendar goes on.
    stale = plan(HOURLY, down_since, at(2026, 12, 1, 12, 30), "latest", window=600)
    assert stale.runs == []
    assert stale.next_tick == at(2026, 12, 1, 13)


def test_catch_up_all_runs_at_most_the_latest_hundred() -> None:
    fired = plan(EVERY_2, at(2026, 12, 1), at(2026, 12, 1, 1), "all")
    assert len(fired.runs) == MAX_CATCH_UP_RUNS
    assert fired.runs[-1] == at(2026, 12, 1, 1)
    assert fired.runs == sorted(fired.runs)


def test_catch_up_across_the_spring_dst_change_in_paris() -> None:
    nightly = Calendar(cron="30 2 * * *", timezone="Europe/Paris")
    # Down from Friday evening to Monday morning, across the night clocks went forward.
    fired = plan_ticks(
        nightly, last_tick=at(2026, 3, 27, 20), now=at(2026, 3, 30, 6), catch_up="all", catch_up_window=4 * 86400
    )
    zone = nightly.zone
    assert [tick.astimezone(zone).isoformat() for tick in fired.runs] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]


def test_jitter_delays_a_tick_by_the_same_amount_everywhere_within_its_bound() -> None:
    schedule = str(uuid.uuid4())
    delays = {jitter_of(schedule, at(2026, 12, 1) + datetime.timedelta(seconds=s), 30) for s in range(0, 120, 2)}
    assert all(datetime.timedelta(0) <= delay <= datetime.timedelta(seconds=30) for delay in delays)
    assert len(delays) > 10
    assert jitter_of(schedule, at(2026, 12, 1), 30) == jitter_of(schedule, at(2026, 12, 1), 30)
    assert jitter_of(schedule, at(2026, 12, 1), 0) == datetime.timedelta(0)

    # A lone tick fired late by as much as its jitter (plus the on-time allowance) is on time; without jitter, missed.
    def fired_late(jitter: int) -> list[datetime.datetime]:
        return plan_ticks(
            HOURLY,
            last_tick=at(2026, 12, 1, 1, 30),
            now=at(2026, 12, 1, 2, 0, 40),
            catch_up="none",
            catch_up_window=86400,
            jitter=datetime.timedelta(seconds=jitter),
            on_time=15,
        ).runs

    assert fired_late(30) == [at(2026, 12, 1, 2)]
    assert fired_late(0) == []


def test_run_ids_are_one_per_schedule_and_tick() -> None:
    schedule, other = str(uuid.uuid4()), str(uuid.uuid4())
    tick = at(2026, 12, 1, 2)
    assert run_id(schedule, tick) == run_id(schedule, tick.astimezone(Calendar(every=1, timezone="Asia/Tokyo").zone))
    assert run_id(schedule, tick) != run_id(schedule, tick + datetime.timedelta(seconds=1))
    assert run_id(schedule, tick) != run_id(other, tick)
    uuid.UUID(run_id(schedule, tick))


@pytest.mark.parametrize(
    ("policy", "unfinished", "buffered", "action"),
    [
        ("skip", False, False, OverlapAction.START),
        ("skip", True, False, OverlapAction.SKIP),
        ("buffer_one", True, False, OverlapAction.BUFFER),
        ("buffer_one", True, True, OverlapAction.SKIP),
        ("buffer_one", False, False, OverlapAction.START),
        ("allow_all", True, False, OverlapAction.START),
        ("cancel_other", True, False, OverlapAction.CANCEL_AND_START),
        ("cancel_other", False, False, OverlapAction.START),
    ],
)
def test_overlap(policy: str, unfinished: bool, buffered: bool, action: OverlapAction) -> None:
    assert overlap_action(policy, unfinished=unfinished, buffered=buffered) is action
