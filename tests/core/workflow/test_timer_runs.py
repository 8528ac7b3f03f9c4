"""A timer sweep that runs what its timers woke in its own process (a SAQ worker's: ``TimerSweeper.run_here``).

See docs/workflow-language.md, Waits and durable timers. On the memory store and the SQL store over
SQLite and PostgreSQL, with a frozen clock: the ``wait`` timers' handler wakes and claims the
executions in one statement (``wake_and_claim_waiting``), the sweeper runs them through the worker
(no second claim while the lease has time left), and claims no more due timers than it has room for.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import re
import uuid
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import configure_engine
from packs.core import workflow as wf
from packs.core.models import WorkflowExecution
from packs.core.workflow import clock
from packs.core.workflow.model import utcnow
from packs.core.workflow.timers import AHEAD_SECONDS, WOKEN_AHEAD, Firing, Timer, TimerHandlers, TimerSweeper
from tests.core.workflow.test_history_reads import Statements, capture
from tests.support.engine import SQL_STORES, empty_workflow_tables, sql_store

START = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
DELAY = 60


def at(seconds: float) -> datetime.datetime:
    return START + datetime.timedelta(seconds=seconds)


def waiting_engine(store: Any) -> wf.Engine:
    chain: list[dict[str, Any]] = [
        {"id": "start", "type": "start"},
        {"id": "pause", "type": "wait", "seconds": DELAY},
        {"id": "done", "type": "end"},
    ]
    for current, following in itertools.pairwise(chain):
        current["next"] = following["id"]
    return wf.Engine(wf.load({"id": "waiting", "name": "Waiting", "steps": chain}), store=store)


def worker_of(store: Any, engine: wf.Engine, lease_seconds: float = 30.0) -> wf.Worker:
    catalog = wf.DefinitionCatalog(store, {engine.definition.id: engine.definition})
    return wf.Worker(store, catalog, lease_seconds=lease_seconds)


async def halted_waits(store: Any, count: int) -> tuple[wf.Engine, list[str]]:
    engine = waiting_engine(store)
    ids = []
    for _ in range(count):
        result = await engine.run(input={})
        assert result.status == wf.Status.HALTED
        ids.append(result.execution_id)
    return engine, ids


def count_checkpoints(store: Any) -> list[int]:
    """From now on, the number of entries of each checkpoint ``store`` makes (in order)."""
    made: list[int] = []
    checkpoint = store.checkpoint

    async def counted(execution: wf.Execution, entries: list[wf.Entry]) -> None:
        made.append(len(entries))
        await checkpoint(execution, entries)

    store.checkpoint = counted
    return made


async def refuse(execution_id: str) -> None:
    raise AssertionError(f"execution {execution_id} went to the queue; the sweeper was to run it here")


async def settle(sweeper: TimerSweeper) -> None:
    """Wait for the runs the sweeper started (generous: the machine may be loaded)."""
    for _ in range(600):
        if not sweeper.running:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{sweeper.running} runs still going after 30 s")


async def test_wake_and_claim_wakes_only_what_still_halts_at_its_timer_and_takes_its_lease(store: Any) -> None:
    with clock.frozen(START) as moment:
        _, (woken, other) = await halted_waits(store, 2)
        [timer] = await store.timers_of(woken)
        moment.advance(seconds=DELAY)
        claimed = await store.wake_and_claim_waiting(
            [(woken, timer.id), (other, "not-its-timer")], now := at(DELAY), "worker-a", 30.0
        )
        assert [execution.id for execution in claimed] == [woken]
        [execution] = claimed
        assert (execution.status, execution.current_step, execution.halt_data) == (wf.Status.PENDING, "pause", None)
        assert (execution.lease_owner, execution.attempts) == ("worker-a", 1)
        assert execution.lease_expires_at == now + datetime.timedelta(seconds=30)
        assert await store.claim(woken, "worker-b", 30.0) is None  # the lease is live
        assert (await store.load(other)).status == wf.Status.HALTED
        # Woken once: the same timer again finds it no longer halted there.
        assert await store.wake_and_claim_waiting([(woken, timer.id)], now, "worker-b", 30.0) == []


async def test_a_sweep_running_here_wakes_claims_and_runs_each_execution_once(store: Any) -> None:
    with clock.frozen(START) as moment:
        engine, ids = await halted_waits(store, 5)
        moment.advance(seconds=DELAY)
        worker = worker_of(store, engine)
        sweeper = TimerSweeper(store, refuse)
        sweeper.run_here(worker.process, 2, claim_for=(worker.owner, worker.lease_seconds))
        fired = await sweeper.sweep()
        await settle(sweeper)
        assert len(fired) == 5
        for execution_id in ids:
            execution = await store.load(execution_id)
            assert execution.status == wf.Status.COMPLETED
            assert execution.attempts == 1  # claimed as it was woken, not claimed again by the worker
            entries = [(e.step_id, str(e.action)) for e in await store.entries(execution_id)]
            assert entries.count(("pause", "completed")) == 1
        assert await store.timers_of(ids[0]) == []


async def test_a_woken_execution_with_little_of_its_lease_left_has_it_extended_and_runs(store: Any) -> None:
    with clock.frozen(START) as moment:
        engine, [execution_id] = await halted_waits(store, 1)
        [timer] = await store.timers_of(execution_id)
        moment.advance(seconds=DELAY)
        worker = worker_of(store, engine, lease_seconds=30.0)
        [claimed] = await store.wake_and_claim_waiting([(execution_id, timer.id)], at(DELAY), worker.owner, 30.0)
        moment.advance(seconds=20)  # 10 s left of 30: less than half
        result = await worker.process(execution_id, claimed)
    assert result is not None
    assert result.status == wf.Status.COMPLETED
    assert (await store.load(execution_id)).attempts == 1  # extended, not claimed again


async def test_a_woken_execution_claimed_since_by_anyone_is_not_run_on_the_old_claim(store: Any) -> None:
    with clock.frozen(START) as moment:
        engine, ids = await halted_waits(store, 2)
        moment.advance(seconds=DELAY)
        worker = worker_of(store, engine, lease_seconds=30.0)
        waits = [(execution_id, (await store.timers_of(execution_id))[0].id) for execution_id in ids]
        stale = await store.wake_and_claim_waiting(waits, utcnow(), worker.owner, 30.0)
        moment.advance(seconds=31)  # the leases expired while the claims waited for a free slot
        # One taken over by another worker, one by a job of this same worker (same owner, a new lease).
        assert await store.claim(ids[0], "other-worker", 30.0) is not None
        assert await store.claim(ids[1], worker.owner, 30.0) is not None
        for execution_id, claimed in zip(ids, stale, strict=True):
            assert await worker.process(execution_id, claimed) is None
        executions = [await store.load(execution_id) for execution_id in ids]
    assert [(e.status, e.lease_owner, e.attempts) for e in executions] == [
        (wf.Status.PENDING, "other-worker", 2),
        (wf.Status.PENDING, worker.owner, 2),
    ]


async def test_a_sweep_running_here_claims_no_more_timers_than_it_has_room_for(store: Any) -> None:
    handlers = TimerHandlers()

    async def nudge(timer: Timer, firing: Firing) -> None:
        firing.deliver(timer.payload["execution"])

    handlers.register("nudge", nudge)
    ids = [f"execution-{n}" for n in range(5)]
    for n, execution_id in enumerate(ids):
        await store.add_timer(Timer(kind="nudge", due_at=at(n), payload={"execution": execution_id}))
    gate = asyncio.Event()
    ran: list[str] = []
    running: set[str] = set()
    most = 0

    async def run(execution_id: str, claimed: Any) -> None:
        nonlocal most
        running.add(execution_id)
        most = max(most, len(running))
        await gate.wait()
        ran.append(execution_id)
        running.discard(execution_id)

    sweeper = TimerSweeper(store, refuse, handlers=handlers)
    sweeper.run_here(run, 1)
    with clock.frozen(at(10)):
        sweep = asyncio.create_task(sweeper.sweep())
        for _ in range(600):
            if running:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        # Concurrency 1: one execution running, one woken ahead of it; the other three timers are still due.
        assert (sweeper.running, len(running)) == (2, 1)
        assert len(await store.due_timers(at(10))) == 3
        assert not sweep.done()
        gate.set()
        await sweep
        await settle(sweeper)
    assert ran == ids
    assert most == 1


@SQL_STORES
async def test_what_a_timer_woke_runs_without_a_claim_an_entry_read_or_a_timer_delete(store_backend: str) -> None:
    engine = configure_engine(create_async_engine(store_backend))
    try:
        await empty_workflow_tables(engine)
        statements = Statements()
        capture(engine, statements)
        store = sql_store(engine)
        with clock.frozen(START) as moment:
            waiting, ids = await halted_waits(store, 3)
            moment.advance(seconds=DELAY)
            worker = worker_of(store, waiting)
            sweeper = TimerSweeper(store, refuse)
            sweeper.run_here(worker.process, 3, claim_for=(worker.owner, worker.lease_seconds))
            checkpoints = count_checkpoints(store)
            statements.clear()
            await sweeper.sweep()
            await settle(sweeper)
        assert {(await store.load(execution_id)).status for execution_id in ids} == {wf.Status.COMPLETED}
        sent = [" ".join(statement.split()) for statement in statements.sql]
        assert not [s for s in sent if "attempts + " in s], "a claim per execution"
        assert statements.reading_entries() == []
        assert not [s for s in sent if s.upper().startswith("DELETE FROM WORKFLOW_TIMERS")]
        # The wait's end and the end step are instant: each woken run is one checkpoint of four entries.
        assert checkpoints == [4, 4, 4]
    finally:
        await engine.dispose()


async def test_a_stopped_sweeper_gives_back_the_leases_of_what_it_woke_and_had_not_started(store: Any) -> None:
    _, ids = await halted_waits(store, 3)  # due in DELAY seconds
    started = asyncio.Event()
    gate = asyncio.Event()

    async def run(execution_id: str, claimed: Any) -> None:
        started.set()
        await gate.wait()  # the first one holds the only slot until stopped

    sweeper = TimerSweeper(store, refuse)
    sweeper.run_here(run, 1, claim_for=("worker-a", 30.0))
    with clock.frozen(utcnow() + datetime.timedelta(seconds=DELAY + 1)):
        sweeper.start()
        await asyncio.wait_for(started.wait(), 30)
        for _ in range(600):
            if sweeper.running == 2:
                break
            await asyncio.sleep(0.05)
        assert sweeper.running == 2  # one running, one claimed ahead of it; the third still due
        await sweeper.stop()
    leases = sorted([(await store.load(execution_id)).lease_owner or "" for execution_id in ids])
    # The one that ran keeps its lease (its run, cancelled, is the worker's to hand over); the one that
    # waited for a slot is given back; the third was never woken.
    assert leases == ["", "", "worker-a"]
    assert [e.status for e in [await store.load(execution_id) for execution_id in ids]].count(wf.Status.HALTED) == 1


async def test_a_sweep_that_sees_a_timer_come_due_within_its_resolution_sweeps_again_at_its_due_time(
    store: Any,
) -> None:
    sweeper = TimerSweeper(store, refuse, resolution=DELAY + 30)
    with clock.frozen(START):
        assert sweeper.pause() == DELAY + 30  # nothing seen yet: the resolution
        await halted_waits(store, 2)  # due in DELAY seconds
        assert await sweeper.sweep() == []
        assert sweeper.pause() == DELAY
    with clock.frozen(at(DELAY - 1)):
        assert sweeper.pause() == 1
    sweeper = TimerSweeper(store, refuse, resolution=DELAY / 2)
    with clock.frozen(START):
        await sweeper.sweep()
        assert sweeper.pause() == DELAY / 2  # due later than the resolution: the resolution


async def test_a_worker_sweeper_holds_about_a_second_of_runs_ahead(store: Any) -> None:
    async def quick(execution_id: str, claimed: Any) -> None:
        return None

    sweeper = TimerSweeper(store, refuse)
    sweeper.run_here(quick, 2)
    assert sweeper.room == 4  # nothing run yet: twice the concurrency
    with clock.frozen(START) as moment:
        await halted_waits(store, 3)
        moment.advance(seconds=DELAY)
        await sweeper.sweep()
        await settle(sweeper)
    assert sweeper.room == 2 + WOKEN_AHEAD  # quick runs: as many ahead as it may hold

    async def slow(execution_id: str, claimed: Any) -> None:
        await asyncio.sleep(AHEAD_SECONDS)

    sweeper = TimerSweeper(store, refuse)
    sweeper.run_here(slow, 1)
    with clock.frozen(START) as moment:
        await halted_waits(store, 1)
        moment.advance(seconds=DELAY)
        await sweeper.sweep()
        await settle(sweeper)
    assert sweeper.room == 2  # a run of a second or more: no more ahead than its concurrency
    sweeper.run_here(quick, 3, ahead=10)
    assert sweeper.room == 13


async def test_a_worker_sweeper_overlaps_two_claims_of_a_burst_where_the_store_allows_it(store: Any) -> None:
    in_flight = 0
    most = 0
    claim_due_timers = store.claim_due_timers

    async def slow_claim(now: datetime.datetime, limit: int) -> list[Timer]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.05)  # a claim slower than the runs it wakes
            claimed: list[Timer] = await claim_due_timers(now, limit)
            return claimed
        finally:
            in_flight -= 1

    store.claim_due_timers = slow_claim
    ran: list[str] = []

    async def quick(execution_id: str, claimed: Any) -> None:
        ran.append(execution_id)

    sweeper = TimerSweeper(store, refuse)
    sweeper.run_here(quick, 2, ahead=4)  # room for 6: batches of at most 6
    with clock.frozen(START) as moment:
        _, ids = await halted_waits(store, 30)
        moment.advance(seconds=DELAY)
        await sweeper.sweep()
        await settle(sweeper)
    assert sorted(ran) == sorted(ids)  # each woken once
    assert most == (2 if getattr(store, "claims_in_parallel", False) else 1)


@SQL_STORES
async def test_the_wake_finds_its_executions_by_primary_key_even_with_statistics_of_an_empty_table(
    store_backend: str,
) -> None:
    """Statistics taken before a burst of waits call ``halted`` rare: the wake's statement still does not read
    every halted execution through the status index to find its batch (SQLite reads it by primary key)."""
    engine = configure_engine(create_async_engine(store_backend))
    try:
        await empty_workflow_tables(engine)
        async with engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")
            others = [{"id": uuid.uuid4(), "workflow_id": "others", "status": "halted"} for _ in range(3000)]
            await connection.execute(insert(WorkflowExecution.__table__), others)  # too many to scan
        store = sql_store(engine)
        with clock.frozen(START) as moment:
            _, ids = await halted_waits(store, 40)
            moment.advance(seconds=DELAY)
            waits = [(execution_id, (await store.timers_of(execution_id))[0].id) for execution_id in ids[:5]]
        sent: list[tuple[str, Any]] = []

        def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith("UPDATE WORKFLOW_EXECUTIONS"):
                sent.append((statement, parameters))

        event.listen(engine.sync_engine, "before_cursor_execute", before)
        assert len(await store.wake_waiting(waits, at(DELAY))) == 5
        event.remove(engine.sync_engine, "before_cursor_execute", before)
        [(statement, parameters)] = sent
        explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        async with engine.connect() as connection:
            plan = " ".join(str(row) for row in await connection.exec_driver_sql(explain + statement, parameters))
        assert not re.search(r"ix_workflow_executions_status\b", plan), plan
        if engine.dialect.name == "sqlite":  # PostgreSQL may also read a small table whole, or another index by id
            assert "sqlite_autoindex_workflow_executions" in plan, plan
    finally:
        await engine.dispose()
