"""Durable timers: the store methods, firing once by kind, the clock.

See docs/workflow-language.md, Waits and durable timers.

Every test runs on the memory store and on the SQL store over SQLite and PostgreSQL, with a
frozen clock (nothing sleeps for a due time).
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from packs.core import workflow as wf
from packs.core.workflow import clock
from packs.core.workflow.model import new_id, utcnow
from packs.core.workflow.timers import Firing, Timer, TimerHandlers, TimerSweeper, collecting, fire_due
from tests.support.engine import SQL_STORES, empty_workflow_tables, sql_store

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def at(seconds: float) -> datetime.datetime:
    return START + datetime.timedelta(seconds=seconds)


async def saved_execution(store: Any) -> str:
    execution = wf.Execution(id=new_id(), workflow_id="w", status=wf.Status.HALTED)
    await store.save(execution)
    return execution.id


def noting() -> tuple[TimerHandlers, list[str]]:
    """Handlers that fire the kind ``note`` by noting the timer's id, and the list of the ids noted."""
    handlers = TimerHandlers()
    noted: list[str] = []

    async def note(timer: Timer, firing: Firing) -> None:
        noted.append(timer.id)

    handlers.register("note", note)
    return handlers, noted


async def nowhere(execution_id: str) -> None:
    """A delivery that goes nowhere (the timers of these tests wake no execution)."""


def test_the_frozen_clock_is_what_utcnow_answers() -> None:
    with clock.frozen(START) as moment:
        assert utcnow() == START
        moment.advance(seconds=90)
        assert utcnow() == at(90)
        assert wf.Execution(id="x", workflow_id="w").created_at == at(90)
    assert utcnow() > START
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.FrozenClock(datetime.datetime(2026, 1, 1))


async def test_timers_are_due_by_time_and_claimed_once(store: Any) -> None:
    execution_id = await saved_execution(store)
    early = Timer(kind="wait", due_at=at(10), execution_id=execution_id, payload={"step": "pause"})
    late = Timer(kind="retry", due_at=at(20), execution_id=execution_id)
    loose = Timer(kind="schedule", due_at=at(5))
    for timer in (late, early, loose):
        await store.add_timer(timer)

    assert [t.id for t in await store.due_timers(at(4))] == []
    assert [t.id for t in await store.due_timers(at(10))] == [loose.id, early.id]
    assert [t.id for t in await store.timers_of(execution_id)] == [early.id, late.id]
    assert await store.next_timer_due() == at(5)
    found = (await store.timers_of(execution_id))[0]
    assert (found.kind, found.due_at, found.payload, found.fired_at) == ("wait", at(10), {"step": "pause"}, None)

    assert await store.claim_timer(early.id, at(11)) is True
    assert await store.claim_timer(early.id, at(12)) is False
    assert [t.id for t in await store.due_timers(at(30))] == [loose.id, late.id]
    assert [t.id for t in await store.timers_of(execution_id)] == [late.id]
    assert await store.claim_timer(new_id(), at(12)) is False
    assert await store.claim_timer("not-a-uuid", at(12)) is False


async def test_cancelling_removes_an_executions_unfired_timers_by_kind(store: Any) -> None:
    execution_id, other_id = await saved_execution(store), await saved_execution(store)
    wait, retry, other = (
        Timer(kind="wait", due_at=at(10), execution_id=execution_id),
        Timer(kind="retry", due_at=at(10), execution_id=execution_id),
        Timer(kind="wait", due_at=at(10), execution_id=other_id),
    )
    for timer in (wait, retry, other):
        await store.add_timer(timer)
    assert await store.cancel_timers(execution_id, kind="retry") == 1
    assert [t.id for t in await store.timers_of(execution_id)] == [wait.id]
    assert await store.cancel_timers(execution_id) == 1
    assert await store.timers_of(execution_id) == []
    assert [t.id for t in await store.due_timers(at(10))] == [other.id]
    assert await store.cancel_timers("not-a-uuid") == 0


async def test_deleting_an_execution_deletes_its_timers(store: Any) -> None:
    execution_id = await saved_execution(store)
    await store.add_timer(Timer(kind="wait", due_at=at(1), execution_id=execution_id))
    assert await store.delete(execution_id)
    assert await store.due_timers(at(100)) == []
    assert await store.next_timer_due() is None


async def test_fire_due_dispatches_by_kind_once_and_collects_deliveries(store: Any) -> None:
    handlers = TimerHandlers()
    seen: list[tuple[str, str, datetime.datetime]] = []

    async def wake(timer: Timer, firing: Firing) -> None:
        seen.append((timer.kind, timer.id, firing.now))
        assert timer.execution_id is not None
        firing.deliver(timer.execution_id)

    handlers.register("wait", wake)
    handlers.register("approval_deadline", wake)
    assert handlers.kinds() == ["approval_deadline", "wait"]
    execution_id = await saved_execution(store)
    first = Timer(kind="wait", due_at=at(1), execution_id=execution_id)
    second = Timer(kind="approval_deadline", due_at=at(2), execution_id=execution_id)
    unknown = Timer(kind="nobody_handles_this", due_at=at(1))
    future = Timer(kind="wait", due_at=at(60), execution_id=execution_id)
    for timer in (first, second, unknown, future):
        await store.add_timer(timer)

    with clock.frozen(at(5)):
        fired = await fire_due(store, handlers=handlers)
        again = await fire_due(store, handlers=handlers)
    assert [t.id for t in fired.timers] == [first.id, second.id]
    assert fired.deliveries == [execution_id, execution_id]
    assert seen == [("wait", first.id, at(5)), ("approval_deadline", second.id, at(5))]
    assert again.timers == []
    # The unknown kind stays due (a handler registered later fires it); the future one waits.
    assert [t.id for t in await store.due_timers(at(5))] == [unknown.id]
    assert [t.id for t in await store.timers_of(execution_id)] == [future.id]


async def test_two_sweeps_at_once_fire_each_timer_exactly_once(store: Any) -> None:
    handlers = TimerHandlers()
    fired: list[str] = []

    async def count(timer: Timer, firing: Firing) -> None:
        await asyncio.sleep(0)
        fired.append(timer.id)

    handlers.register("tick", count)
    timers = [Timer(kind="tick", due_at=at(n % 7)) for n in range(60)]
    for timer in timers:
        await store.add_timer(timer)
    with clock.frozen(at(10)):
        results = await asyncio.gather(*(fire_due(store, handlers=handlers, limit=15) for _ in range(4)))
        while await store.due_timers(at(10)):
            results.append(await fire_due(store, handlers=handlers, limit=15))
    assert sorted(fired) == sorted(t.id for t in timers)
    assert sum(len(result.timers) for result in results) == len(timers)


@SQL_STORES
async def test_a_failing_handler_undoes_its_claim_and_the_timer_stays_due(store: Any) -> None:
    handlers = TimerHandlers()
    calls: list[str] = []

    async def flaky(timer: Timer, firing: Firing) -> None:
        calls.append(timer.id)
        firing.deliver("never-delivered")
        if len(calls) == 1:
            raise RuntimeError("the first attempt fails")

    handlers.register("flaky", flaky)
    timer = Timer(kind="flaky", due_at=at(1))
    await store.add_timer(timer)
    with clock.frozen(at(2)):
        failed = await fire_due(store, handlers=handlers)
        assert (failed.timers, failed.deliveries) == ([], [])
        assert [t.id for t in await store.due_timers(at(2))] == [timer.id]
        succeeded = await fire_due(store, handlers=handlers)
    assert [t.id for t in succeeded.timers] == [timer.id]
    assert calls == [timer.id, timer.id]


@SQL_STORES
async def test_a_timer_added_in_a_unit_that_rolls_back_is_not_kept(store: Any) -> None:
    timer = Timer(kind="wait", due_at=at(1))

    async def failing_step() -> None:
        async with store.unit():
            await store.add_timer(timer)
            raise RuntimeError("the step failed")

    with pytest.raises(RuntimeError):
        await failing_step()
    assert await store.due_timers(at(5)) == []


async def test_collecting_gathers_the_timers_a_block_adds(store: Any) -> None:
    timer = Timer(kind="wait", due_at=at(3))
    with collecting() as added:
        await store.add_timer(timer)
    await store.add_timer(Timer(kind="wait", due_at=at(4)))
    assert [t.id for t in added] == [timer.id]


async def test_the_sweeper_fires_what_is_due_and_delivers_it(store: Any) -> None:
    handlers = TimerHandlers()

    async def wake(timer: Timer, firing: Firing) -> None:
        assert timer.execution_id is not None
        firing.deliver(timer.execution_id)

    handlers.register("wait", wake)
    execution_id = await saved_execution(store)
    for seconds in range(5):
        await store.add_timer(Timer(kind="wait", due_at=at(seconds), execution_id=execution_id))
    delivered: list[str] = []

    async def deliver(execution_id: str) -> None:
        delivered.append(execution_id)

    sweeper = TimerSweeper(store, deliver, handlers=handlers, batch=2, resolution=0.01)
    with clock.frozen(at(10)):
        fired = await sweeper.sweep()
    assert len(fired) == 5
    assert delivered == [execution_id, execution_id, execution_id]  # once per batch of firings


async def test_a_batch_handler_gets_the_due_timers_of_its_kind_together(store: Any) -> None:
    handlers = TimerHandlers()
    batches: list[list[str]] = []

    async def together(timers: list[Timer], firing: Firing) -> None:
        batches.append([timer.id for timer in timers])

    handlers.register_batch("bulk", together)
    assert handlers.handles("bulk")
    assert handlers.kinds() == ["bulk"]
    timers = [Timer(kind="bulk", due_at=at(n)) for n in range(5)]
    for timer in timers:
        await store.add_timer(timer)
    with clock.frozen(at(10)):
        fired = await fire_due(store, handlers=handlers, limit=3)
        rest = await fire_due(store, handlers=handlers, limit=3)
    assert batches == [[t.id for t in timers[:3]], [t.id for t in timers[3:]]]
    assert [t.id for t in fired.timers + rest.timers] == [t.id for t in timers]


async def test_the_running_sweeper_fires_a_timer_within_its_resolution(store: Any) -> None:
    handlers = TimerHandlers()
    fired_at: list[datetime.datetime] = []

    async def note(timer: Timer, firing: Firing) -> None:
        fired_at.append(utcnow())

    handlers.register("note", note)

    async def deliver(execution_id: str) -> None:
        pass

    sweeper = TimerSweeper(store, deliver, handlers=handlers, resolution=0.2)
    sweeper.start()
    try:
        due = utcnow() + datetime.timedelta(seconds=0.3)
        await store.add_timer(Timer(kind="note", due_at=due))
        for _ in range(100):
            if fired_at:
                break
            await asyncio.sleep(0.05)
    finally:
        await sweeper.stop()
    assert fired_at, "the timer did not fire within 5 s"
    assert datetime.timedelta(0) <= fired_at[0] - due < datetime.timedelta(seconds=1)


async def test_fired_timers_past_their_retention_are_purged_oldest_first(store: Any) -> None:
    execution_id = await saved_execution(store)
    old = Timer(kind="wait", due_at=at(1), execution_id=execution_id)
    recent = Timer(kind="wait", due_at=at(2))
    unfired = Timer(kind="wait", due_at=at(0))  # due long ago and never fired: a purge leaves it
    for timer in (old, recent, unfired):
        await store.add_timer(timer)
    assert await store.claim_timer(old.id, at(10))
    assert await store.claim_timer(recent.id, at(50))

    assert await store.purge_fired_timers(at(10)) == 0  # fired at 10: not before 10
    assert await store.purge_fired_timers(at(60), limit=1) == 1
    assert await store.purge_fired_timers(at(40)) == 0  # the oldest went first: what is left fired at 50
    assert await store.purge_fired_timers(at(60)) == 1
    assert await store.purge_fired_timers(at(10_000)) == 0
    assert [t.id for t in await store.due_timers(at(100))] == [unfired.id]
    await store.unclaim_timers([old.id, recent.id])  # gone: nothing comes back
    assert [t.id for t in await store.due_timers(at(100))] == [unfired.id]


async def test_the_sweeper_purges_the_timers_fired_longer_ago_than_its_retention(store: Any) -> None:
    handlers, fired = noting()
    deliver = nowhere
    timer = Timer(kind="note", due_at=at(1))
    await store.add_timer(timer)
    sweeper = TimerSweeper(store, deliver, handlers=handlers, retention=3600, purge_every=0)
    with clock.frozen(at(10)) as moment:
        assert [t.id for t in await sweeper.tick()] == [timer.id]
        moment.advance(seconds=3600)
        assert await sweeper.purge() == 0  # fired exactly 3600 s ago: kept
        moment.advance(seconds=1)
        await sweeper.tick()
        assert await store.purge_fired_timers(at(100_000)) == 0  # the tick purged it
    await store.unclaim_timers([timer.id])
    assert await store.due_timers(at(100_000)) == []
    assert fired == [timer.id]

    # At most one purge per purge_every, and none without a retention.
    later = Timer(kind="note", due_at=at(1))
    await store.add_timer(later)
    throttled = TimerSweeper(store, deliver, handlers=handlers, retention=1, purge_every=3600)
    with clock.frozen(at(10)) as moment:
        await throttled.tick()  # fires it; the first tick purges (nothing old enough yet)
        moment.advance(seconds=10)
        await throttled.tick()
        assert await TimerSweeper(store, deliver, retention=None).purge() == 0
        assert await store.purge_fired_timers(at(100_000)) == 1  # the second tick did not purge


RESCANNING = dict.fromkeys(
    ("enable_hashjoin", "enable_mergejoin", "enable_hashagg", "enable_material", "enable_sort"), "off"
)
"""Planner settings under which PostgreSQL runs an ``id IN (subquery)`` as a nested loop that scans the subquery
again for every row (a plan it may also choose on its own, from its statistics)."""


@pytest.mark.parametrize("store_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_a_claim_and_a_purge_take_no_more_timers_than_their_limit_whatever_the_plan(store_backend: str) -> None:
    """Their ``LIMIT ... FOR UPDATE SKIP LOCKED`` choice of rows runs once: scanned again after the statement had
    changed the first rows, it would skip them and pick the next ones too (a claim of 3 took all 5)."""
    engine = create_async_engine(store_backend, connect_args={"server_settings": RESCANNING})
    try:
        await empty_workflow_tables(engine)
        store = sql_store(engine)
        timers = [Timer(kind="bulk", due_at=at(n)) for n in range(5)]
        for timer in timers:  # in due order, as a nested loop then reads them
            await store.add_timer(timer)
        claimed = await store.claim_due_timers(at(10), limit=3)
        assert [timer.id for timer in claimed] == [timer.id for timer in timers[:3]]
        assert await store.purge_fired_timers(at(20), limit=1) == 1
        assert len(await store.claim_due_timers(at(10), limit=3)) == 2
    finally:
        await engine.dispose()
