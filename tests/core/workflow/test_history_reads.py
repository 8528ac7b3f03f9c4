"""Resume and recover read what they need (docs/workflow-language.md, section 3, ``$history``), and a
checkpoint's UPDATE writes only the columns that can change: on MemoryStore and on the SQL store over
SQLite and PostgreSQL, with every statement captured (SQLAlchemy's and the driver writers' alike)."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from app.database import configure_engine
from packs.core import workflow as wf
from packs.core.workflow.stores.sql import SQLStore
from tests.support.engine import SQL_STORES, empty_workflow_tables, sql_store

RECORDED = 10_000


class CountingMemoryStore(wf.MemoryStore):
    """A memory store that counts the entries it hands out."""

    def __init__(self) -> None:
        super().__init__()
        self.entry_reads = 0
        self.entries_read = 0

    async def entries(self, execution_id: str) -> list[wf.Entry]:
        found = await super().entries(execution_id)
        self.entry_reads += 1
        self.entries_read += len(found)
        return found


@dataclass
class Statements:
    """Every statement sent to the database, through SQLAlchemy's cursors or straight through the driver."""

    sql: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.sql.clear()

    async def settled(self) -> Statements:
        """These statements once asyncpg has logged the last one: it calls its query loggers soon after each
        query (``loop.call_soon``), so a statement sent just before is seen after one turn of the loop."""
        await asyncio.sleep(0)
        return self

    def reading_entries(self) -> list[str]:
        return [s for s in self.sql if re.search(r"\bFROM\s+workflow_entries\b", s, re.I)]

    def updates_of_executions(self) -> list[str]:
        return [s for s in self.sql if "UPDATE workflow_executions" in s]


@dataclass
class Backend:
    store: wf.QueueStore
    statements: Statements | None = None
    memory: CountingMemoryStore | None = None

    def entry_reads(self) -> int:
        if self.memory is not None:
            return self.memory.entries_read
        assert self.statements is not None
        return len(self.statements.reading_entries())

    def reset(self) -> None:
        if self.memory is not None:
            self.memory.entry_reads = self.memory.entries_read = 0
        if self.statements is not None:
            self.statements.clear()


def capture(engine: AsyncEngine, statements: Statements) -> None:
    """Record every statement of ``engine``'s connections, the driver writers' included."""

    def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.sql.append(statement)

    def connected(dbapi_connection: Any, _: Any) -> None:
        driver = dbapi_connection.driver_connection
        if engine.dialect.name == "sqlite":
            await_only(driver.set_trace_callback(statements.sql.append))
        else:
            driver.add_query_logger(lambda query: statements.sql.append(query.query))

    if engine.dialect.name == "sqlite":
        # The trace callback sees every statement sqlite runs, SQLAlchemy's included.
        event.listen(engine.sync_engine, "connect", connected)
    else:
        event.listen(engine.sync_engine, "connect", connected)
        event.listen(engine.sync_engine, "before_cursor_execute", before)


@pytest.fixture
async def backend(store_backend: str | None) -> AsyncIterator[Backend]:
    if store_backend is None:
        memory = CountingMemoryStore()
        yield Backend(memory, memory=memory)
        return
    engine = configure_engine(create_async_engine(store_backend))
    await empty_workflow_tables(engine)
    await engine.dispose()
    statements = Statements()
    capture(engine, statements)
    yield Backend(sql_store(engine), statements=statements)
    await engine.dispose()


def doc(*steps: dict[str, Any]) -> dict[str, Any]:
    chain: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps]
    for current, following in itertools.pairwise(chain):
        current.setdefault("next", following["id"])
    return {"id": "long", "name": "Long", "steps": chain}


WITHOUT_HISTORY = doc(
    {"id": "wait", "type": "halt", "reason": "go on?"},
    {"id": "done", "type": "end", "result": {"response": "$response"}},
)
WITH_HISTORY = doc(
    {"id": "wait", "type": "halt", "reason": "go on?"},
    {"id": "done", "type": "end", "result": {"seen": "$history"}},
)


async def halted_with_entries(backend: Backend, document: dict[str, Any]) -> tuple[wf.Engine, str]:
    """An execution of ``document`` halted at ``wait`` after :data:`RECORDED` more entries were recorded."""
    engine = wf.Engine(wf.load(document), store=backend.store, max_state_bytes=16 * 1024 * 1024)
    halted = await engine.run()
    assert halted.status == "halted"
    execution = await backend.store.load(halted.execution_id)
    assert execution is not None
    filler = [
        wf.Entry(execution_id=execution.id, step_id=f"earlier{n}", step_type="assign", action="completed")
        for n in range(RECORDED)
    ]
    await backend.store.checkpoint(execution, filler)
    backend.reset()
    return engine, halted.execution_id


def test_a_definition_knows_whether_it_reads_history() -> None:
    assert not wf.load(WITHOUT_HISTORY).uses_history
    assert wf.load(WITH_HISTORY).uses_history
    in_text = doc({"id": "done", "type": "end", "result": "steps so far: $history.0.step_id"})
    assert wf.load(in_text).uses_history
    condition = doc(
        {
            "id": "route",
            "type": "router",
            "routes": [{"when": {"field": "history.0.action", "op": "eq", "value": "started"}, "then": "done"}],
            "default": "done",
        },
        {"id": "done", "type": "end"},
    )
    assert wf.load(condition).uses_history
    nested = doc(
        {"id": "each", "type": "loop", "over": "$input.items", "as": "item", "do": [
            {"id": "look", "type": "assign", "set": {"seen": "$history"}},
        ]},
        {"id": "done", "type": "end"},
    )  # fmt: skip
    assert wf.load(nested).uses_history
    assert not wf.load(doc({"id": "done", "type": "end", "result": "the history of $input.x"})).uses_history


async def test_resume_reads_no_entry_when_history_is_unused(backend: Backend) -> None:
    engine, execution_id = await halted_with_entries(backend, WITHOUT_HISTORY)

    result = await engine.resume(execution_id, response="yes")

    assert (result.status, result.output) == ("completed", {"response": "yes"})
    assert backend.entry_reads() == 0
    assert len(await backend.store.entries(execution_id)) == 4 + RECORDED + 2  # and done: started, completed


async def test_recover_reads_no_entry_when_history_is_unused(backend: Backend) -> None:
    engine, execution_id = await halted_with_entries(backend, WITHOUT_HISTORY)
    execution = await backend.store.load(execution_id)
    assert execution is not None
    execution.status, execution.current_step, execution.halt_data = wf.Status.RUNNING, "done", None
    execution.ctx["response"] = "later"
    await backend.store.save(execution)  # as if the process died in step ``done``
    backend.reset()

    result = await engine.recover(execution_id)

    assert (result.status, result.output) == ("completed", {"response": "later"})
    assert backend.entry_reads() <= 1  # at most the probe of whether any exists, LIMIT 1
    if backend.statements is not None:
        assert all("LIMIT" in s.upper() for s in backend.statements.reading_entries())
    assert backend.memory is None or backend.memory.entry_reads == 0


async def test_a_workflow_reading_history_sees_all_of_it_after_resume(backend: Backend) -> None:
    engine, execution_id = await halted_with_entries(backend, WITH_HISTORY)

    result = await engine.resume(execution_id, response="yes")

    assert result.status == "completed"
    seen = [(entry["step_id"], entry["action"]) for entry in result.output["seen"]]
    # start and wait (started, completed / halted), every entry recorded since, and the resume's ``done`` started
    assert len(seen) == 4 + RECORDED + 1
    assert seen[:4] == [("start", "started"), ("start", "completed"), ("wait", "started"), ("wait", "halted")]
    assert {step for step, _ in seen[4:-1]} == {f"earlier{n}" for n in range(RECORDED)}
    assert seen[-1] == ("done", "started")


async def test_a_fresh_recover_still_starts_the_run(backend: Backend) -> None:
    """A running execution saved without entries is started, not resumed, when history is not kept."""
    engine = wf.Engine(wf.load(WITHOUT_HISTORY), store=backend.store)
    execution = engine.new_execution({})
    await backend.store.save(execution)
    events: list[str] = []
    engine.subscribe(lambda event: events.append(event.type))

    result = await engine.recover(execution.id)

    assert result.status == "halted"
    assert events[:2] == ["workflow.started", "step.started"]
    assert [(e.step_id, str(e.action)) for e in await backend.store.entries(execution.id)][:1] == [("start", "started")]


@SQL_STORES
@pytest.mark.parametrize("scope", [True, False], ids=["driver writer", "sqlalchemy"])
async def test_a_checkpoint_update_sets_neither_input_nor_workflow_id(backend: Backend, scope: bool) -> None:
    assert backend.statements is not None, "statements are SQL"
    store = backend.store
    engine = wf.Engine(wf.load(WITHOUT_HISTORY), store=store)
    execution = engine.new_execution({"big": "x" * 1000})
    await store.checkpoint(execution, [])
    backend.reset()
    execution.ctx["step"] = 1
    assert isinstance(store, SQLStore)
    started = wf.Entry(execution_id=execution.id, step_id="s", step_type="x", action="started")
    async with store.execution_scope() if scope else nullcontext():
        await store.checkpoint(execution, [started])

    updates = (await backend.statements.settled()).updates_of_executions()
    assert updates, backend.statements.sql
    for statement in updates:
        assignments = statement.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
        assert "ctx" in assignments
        assert not re.search(r"\binput\b", assignments), statement
        assert not re.search(r"\bworkflow_id\b", assignments), statement
    loaded = await store.load(execution.id)
    assert loaded is not None
    assert (loaded.input, loaded.workflow_id, loaded.ctx) == ({"big": "x" * 1000}, "long", {"step": 1})
