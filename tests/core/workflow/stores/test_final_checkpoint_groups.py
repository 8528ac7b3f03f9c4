"""The final checkpoints of runs that end in the same turn of the event loop are written in one statement on
PostgreSQL (``packs.core.workflow.stores.sql.asyncpg``), each fenced on its own lease; when that statement fails,
each is written alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import configure_engine
from packs.core import workflow as wf
from packs.core.workflow.model import utcnow
from packs.core.workflow.stores.sql.asyncpg import FINALS
from packs.core.workflow.stores.sql.store import SQLStore
from tests.core.workflow.queue.test_final_checkpoint_lease import claimed_running, lease_of
from tests.core.workflow.test_engine import actions
from tests.core.workflow.test_history_reads import Statements, capture
from tests.support.engine import empty_workflow_tables, sql_store

pytestmark = pytest.mark.parametrize(
    "store_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)  # only PostgreSQL: on SQLite one connection writes at a time anyway

GROUPED = "array_agg(id) FROM updated"
"""How the group's statement ends (a plain final checkpoint answers ``count(*)``)."""


@pytest.fixture
async def traced(store_backend: str) -> AsyncIterator[tuple[SQLStore, Statements]]:
    engine = configure_engine(create_async_engine(store_backend))
    statements = Statements()
    capture(engine, statements)  # before any connection: the driver's own statements are seen too
    await empty_workflow_tables(engine)
    yield sql_store(engine), statements
    await engine.dispose()


class Start:
    """Holds runs at their last checkpoint until all are there, then lets them go in one turn of the loop."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.waiting = 0

    async def at_checkpoint(self) -> None:
        self.waiting += 1
        await self.go.wait()

    async def release(self, count: int) -> None:
        for _ in range(1000):
            if self.waiting >= count:
                self.go.set()
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{count} runs not waiting at their checkpoint after 10 s")


async def finish(store: SQLStore, execution: wf.Execution, start: Start | None = None) -> None:
    """The run's last checkpoint (completed, two entries), in an execution scope as a worker's run; with ``start``,
    made once it lets the runs go (their scopes are open by then: they reach it in one turn of the loop)."""
    execution.status = wf.Status.COMPLETED
    execution.current_step = "end"
    execution.result = {"done": execution.id}
    execution.updated_at = utcnow()
    entries = [
        wf.Entry(execution_id=execution.id, step_id="end", step_type="end", action=wf.Action.STARTED),
        wf.Entry(execution_id=execution.id, step_id="end", step_type="end", action=wf.Action.COMPLETED),
    ]
    async with store.execution_scope():
        with store.leased(execution.id, "w", release=True):
            if start is not None:
                await start.at_checkpoint()
            await store.checkpoint(execution, entries)


async def stored(store: SQLStore, execution_id: str) -> tuple[Any, ...]:
    loaded = await store.load(execution_id)
    assert loaded is not None
    return str(loaded.status), loaded.result, await actions(store, execution_id)


async def test_final_checkpoints_of_one_turn_are_one_statement(traced: tuple[SQLStore, Statements]) -> None:
    store, statements = traced
    executions = [await claimed_running(store) for _ in range(6)]
    start = Start()
    runs = [asyncio.create_task(finish(store, execution, start)) for execution in executions]
    statements.clear()
    await start.release(len(runs))  # all six reach their last checkpoint in the same turn of the event loop
    await asyncio.gather(*runs)
    grouped = [sql for sql in statements.sql if GROUPED in sql]
    assert len(grouped) == 1, statements.sql
    assert not [sql for sql in statements.sql if "SELECT count(*) FROM updated" in sql]
    for execution in executions:
        assert await stored(store, execution.id) == (
            "completed",
            {"done": execution.id},
            [("end", "started"), ("end", "completed")],
        )
        assert await lease_of(store, execution.id) == ("completed", None, None)


async def test_a_member_whose_lease_was_lost_fails_alone(traced: tuple[SQLStore, Statements]) -> None:
    store, _ = traced
    executions = [await claimed_running(store) for _ in range(4)]
    lost = executions[1]
    await store.release(lost.id, "w")
    assert await store.claim(lost.id, "other", 30) is not None  # another worker's now
    results = await asyncio.gather(*(finish(store, execution) for execution in executions), return_exceptions=True)
    assert isinstance(results[1], wf.LeaseLostError), results
    assert [result for index, result in enumerate(results) if index != 1] == [None, None, None]
    status, _, actions = await stored(store, lost.id)
    assert (status, actions) == ("pending", [])  # nothing of it written: its update and entries both skipped
    assert (await lease_of(store, lost.id))[1] == "other"
    for execution in executions[:1] + executions[2:]:
        assert (await stored(store, execution.id))[0] == "completed"


async def test_when_the_group_statement_fails_each_checkpoint_is_written_alone(
    traced: tuple[SQLStore, Statements],
) -> None:
    store, statements = traced
    writer: Any = store._driver_writer
    for variant in FINALS:  # the group's statement fails on the server
        writer._group_sql[variant] = "SELECT this is not a statement"
    executions = [await claimed_running(store) for _ in range(3)]
    start = Start()
    runs = [asyncio.create_task(finish(store, execution, start)) for execution in executions]
    statements.clear()
    await start.release(len(runs))
    await asyncio.gather(*runs)
    assert [sql for sql in statements.sql if "this is not a statement" in sql]  # the group's, tried once
    assert len([sql for sql in statements.sql if "SELECT count(*) FROM updated" in sql]) == 3
    for execution in executions:
        status, _, actions = await stored(store, execution.id)
        assert (status, actions) == ("completed", [("end", "started"), ("end", "completed")])
