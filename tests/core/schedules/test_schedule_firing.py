"""Firing schedules' ticks (docs/http-api.md, Schedules) on the SQL store over SQLite and PostgreSQL, with the
engine's controllable clock: one run per tick, overlap and catch-up policies, pause, DST."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import update

from packs.core.models import WorkflowSchedule
from packs.core.schedules.policy import run_id
from packs.core.schedules.service import ScheduleService
from packs.core.workflow import Status, Timer, clock, fire_due
from tests.support.harness import Harness, harness_for, make_settings
from tests.support.workflow_http import PACKS

UTC = datetime.UTC
START = datetime.datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC)


def at(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


@pytest.fixture
def moment() -> Iterator[clock.FrozenClock]:
    with clock.frozen(START) as frozen:
        yield frozen


class Schedules:
    """A workspace's schedules driven by hand: create, fire due timers at the frozen time, look at the runs."""

    def __init__(self, harness: Harness, moment: clock.FrozenClock, issued: Any) -> None:
        self.service: ScheduleService = harness.plugin.workflows.schedules
        self.store = harness.plugin.workflows.store
        self.moment = moment
        self.issued = issued

    async def create(self, **body: Any) -> str:
        view = await self.service.create(
            "http_echo", body, workspace_id=str(self.issued.workspace_id), user_id=str(self.issued.user_id)
        )
        return str(view.schedule.id)

    async def fire_at(self, when: datetime.datetime) -> list[str]:
        """Move the clock to ``when`` and fire what is due; the executions delivered."""
        self.moment.set(when)
        fired = await fire_due(self.store, now=when)
        return fired.deliveries

    async def runs(self, schedule_id: str) -> list[Any]:
        page = await self.service.workflows.list(str(self.issued.workspace_id), schedule_id=schedule_id, per_page=100)
        return sorted(page.executions, key=lambda execution: execution.created_at)

    async def finish(self, execution_id: str, status: str = Status.COMPLETED) -> None:
        execution = await self.store.load(execution_id)
        execution.status = status
        await self.store.save(execution)


@pytest.fixture
async def schedules(harness: Harness, moment: clock.FrozenClock) -> Schedules:
    return Schedules(harness, moment, await harness.user("ada@example.com", "Acme"))


async def test_a_tick_starts_one_run_with_the_derived_id_the_creator_and_the_workspace(schedules: Schedules) -> None:
    schedule = await schedules.create(every=60, input={"value": "tick"})
    assert await schedules.fire_at(at(2026, 12, 1, 0, 0, 59)) == []
    delivered = await schedules.fire_at(datetime.datetime(2026, 12, 1, 0, 1, 0, 300000, tzinfo=UTC))
    expected = run_id(schedule, at(2026, 12, 1, 0, 1))
    assert delivered == [expected]
    [run] = await schedules.runs(schedule)
    assert run.id == expected
    assert run.status == Status.PENDING
    assert (run.schedule_id, run.workspace_id, run.created_by_id) == (
        schedule,
        str(schedules.issued.workspace_id),
        str(schedules.issued.user_id),
    )
    assert run.input["value"] == "tick"
    assert run.input["user_id"] == str(schedules.issued.user_id)
    # Fired again at the same moment (another process's sweep): nothing more.
    assert await schedules.fire_at(datetime.datetime(2026, 12, 1, 0, 1, 0, 400000, tzinfo=UTC)) == []
    assert len(await schedules.runs(schedule)) == 1
    view = await schedules.service.get(schedule, str(schedules.issued.workspace_id))
    assert view.schedule.next_tick_at == at(2026, 12, 1, 0, 2)
    assert view.next_runs[0] == at(2026, 12, 1, 0, 2)


async def test_two_schedulers_firing_the_same_tick_start_one_execution(schedules: Schedules, harness: Harness) -> None:
    schedule = await schedules.create(every=60, overlap="allow_all")
    await schedules.fire_at(at(2026, 12, 1, 0, 1, 0))
    # A second scheduler that read the schedule before the first moved it on fires the same tick again.
    async with harness.plugin.db.get_engine().begin() as connection:
        await connection.execute(
            update(WorkflowSchedule).values(last_tick_at=START, next_tick_at=at(2026, 12, 1, 0, 1))
        )
    await schedules.store.add_timer(Timer(kind="schedule", due_at=at(2026, 12, 1, 0, 1), schedule_id=schedule))
    assert await schedules.fire_at(at(2026, 12, 1, 0, 1, 0)) == []
    assert [run.id for run in await schedules.runs(schedule)] == [run_id(schedule, at(2026, 12, 1, 0, 1))]


async def test_overlap_skip_starts_nothing_while_the_previous_run_is_unfinished(schedules: Schedules) -> None:
    schedule = await schedules.create(every=60)
    [first] = await schedules.fire_at(at(2026, 12, 1, 0, 1, 0))
    assert await schedules.fire_at(at(2026, 12, 1, 0, 2, 0)) == []
    await schedules.finish(first, Status.HALTED)  # halted is unfinished too
    assert await schedules.fire_at(at(2026, 12, 1, 0, 3, 0)) == []
    await schedules.finish(first)
    assert await schedules.fire_at(at(2026, 12, 1, 0, 4, 0)) == [run_id(schedule, at(2026, 12, 1, 0, 4))]


async def test_overlap_allow_all_and_cancel_other(schedules: Schedules) -> None:
    both = await schedules.create(every=60, overlap="allow_all")
    replacing = await schedules.create(every=60, overlap="cancel_other")
    await schedules.fire_at(at(2026, 12, 1, 0, 1, 0))
    await schedules.fire_at(at(2026, 12, 1, 0, 2, 0))
    assert [run.status for run in await schedules.runs(both)] == [Status.PENDING, Status.PENDING]
    first, second = await schedules.runs(replacing)
    assert (first.status, second.status) == (Status.CANCELLED, Status.PENDING)
    assert second.id == run_id(replacing, at(2026, 12, 1, 0, 2))


async def test_overlap_buffer_one_starts_one_run_when_the_unfinished_one_ends(schedules: Schedules) -> None:
    schedule = await schedules.create(every=60, overlap="buffer_one")
    [first] = await schedules.fire_at(at(2026, 12, 1, 0, 1, 0))
    assert await schedules.fire_at(at(2026, 12, 1, 0, 2, 0)) == []  # buffered
    assert await schedules.fire_at(at(2026, 12, 1, 0, 2, 5)) == []  # still running: the check waits again
    assert await schedules.fire_at(at(2026, 12, 1, 0, 3, 0)) == []  # a second one is dropped
    await schedules.finish(first)
    assert await schedules.fire_at(at(2026, 12, 1, 0, 3, 2)) == [run_id(schedule, at(2026, 12, 1, 0, 2))]
    assert len(await schedules.runs(schedule)) == 2


@pytest.mark.parametrize(
    ("catch_up", "ticks"),
    [("none", []), ("latest", [4]), ("all", [2, 3, 4])],
)
async def test_ticks_missed_while_every_process_was_down(schedules: Schedules, catch_up: str, ticks: list[int]) -> None:
    schedule = await schedules.create(every=60, catch_up=catch_up, overlap="allow_all")
    await schedules.fire_at(at(2026, 12, 1, 0, 1, 0))
    # Down from 00:01:30 to 00:04:30: the ticks of 00:02, 00:03 and 00:04 fire late, at once.
    delivered = await schedules.fire_at(at(2026, 12, 1, 0, 4, 30))
    assert delivered == [run_id(schedule, at(2026, 12, 1, 0, minute)) for minute in ticks]
    assert len(await schedules.runs(schedule)) == 1 + len(ticks)
    assert await schedules.fire_at(at(2026, 12, 1, 0, 5, 0)) == [run_id(schedule, at(2026, 12, 1, 0, 5))]


async def test_the_catch_up_window_drops_older_ticks(schedules: Schedules) -> None:
    schedule = await schedules.create(every=60, catch_up="all", catch_up_window=150, overlap="allow_all")
    delivered = await schedules.fire_at(at(2026, 12, 1, 0, 6, 0))
    assert delivered == [run_id(schedule, at(2026, 12, 1, 0, minute)) for minute in (4, 5, 6)]


async def test_a_paused_schedule_fires_nothing_and_resumes_from_now(schedules: Schedules) -> None:
    schedule = await schedules.create(every=60, catch_up="all")
    workspace = str(schedules.issued.workspace_id)
    await schedules.service.change(schedule, workspace, {"paused": True})
    assert await schedules.fire_at(at(2026, 12, 1, 0, 5, 0)) == []
    schedules.moment.set(at(2026, 12, 1, 0, 5, 10))
    resumed = await schedules.service.change(schedule, workspace, {"paused": False})
    assert resumed.next_runs[0] == at(2026, 12, 1, 0, 6)
    assert await schedules.fire_at(at(2026, 12, 1, 0, 6, 0)) == [run_id(schedule, at(2026, 12, 1, 0, 6))]
    assert len(await schedules.runs(schedule)) == 1


async def test_a_nightly_paris_schedule_fires_at_0200_local_across_the_spring_change(
    schedules: Schedules,
) -> None:
    schedules.moment.set(at(2026, 3, 27, 12))
    schedule = await schedules.create(cron="0 2 * * *", timezone="Europe/Paris", overlap="allow_all")
    fired = []
    for day in (28, 29, 30):
        for hour in range(24):
            fired += await schedules.fire_at(at(2026, 3, day - 1, 12) + datetime.timedelta(hours=hour + 1))
    assert fired == [
        run_id(schedule, at(2026, 3, 28, 1)),  # 02:00 CET
        run_id(schedule, at(2026, 3, 29, 1)),  # 03:00 CEST: 02:00 did not exist
        run_id(schedule, at(2026, 3, 30, 0)),  # 02:00 CEST
    ]
