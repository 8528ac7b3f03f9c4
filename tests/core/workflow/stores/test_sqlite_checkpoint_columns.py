"""On SQLite a step's checkpoint updates only the columns of the execution row that changed since the store last
wrote it (packs/core/workflow/stores/sql/sqlite.py, SQLiteWriter): SQLite rewrites the index entries of every
column an UPDATE assigns, and ``status`` is in four indexes. What is stored stays what the engine has, also after
a step fails and its unit is rolled back.

Every statement the store's connections send is traced (sqlite3's trace callback) on a real SQLite file.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import database_config
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.db import bind_session_factory
from packs.core.models import WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore

ASSIGNED = re.compile(r"^UPDATE workflow_executions SET (.*?) WHERE id", re.DOTALL)


@dataclass
class Traced:
    engine: AsyncEngine
    store: SQLStore
    statements: list[str] = field(default_factory=list)

    def updates(self) -> list[set[str]]:
        """The columns each UPDATE of an execution row assigned, in order."""
        found = []
        for statement in self.statements:
            match = ASSIGNED.match(statement)
            if match:
                found.append({part.split("=")[0].strip() for part in re.split(r",\s*(?=\w+ = )", match.group(1))})
        return found


@pytest.fixture
async def traced(sqlite_database_url: str) -> AsyncIterator[Traced]:
    config = database_config(Settings(database_url=sqlite_database_url, auto_migrate=False))
    engine = config.get_engine()
    found = Traced(engine, SQLStore(config.create_session_maker(), WorkflowExecution, WorkflowEntry))
    found.store.bind_session_factory = bind_session_factory

    def trace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.driver_connection._conn.set_trace_callback(found.statements.append)

    event.listen(engine.sync_engine, "checkout", trace)
    try:
        yield found
    finally:
        await engine.dispose()


def doc(workflow_id: str, *steps: dict[str, Any]) -> dict[str, Any]:
    chain: list[dict[str, Any]] = [{"id": "start", "type": "start"}, *steps]
    for current, following in itertools.pairwise(chain):
        current.setdefault("next", following["id"])
    return {"id": workflow_id, "name": workflow_id, "steps": chain}


async def stored(traced: Traced, execution_id: str) -> dict[str, Any]:
    async with traced.engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT status, current_step, result, error FROM workflow_executions WHERE id = :id"),
                {"id": bytes.fromhex(execution_id.replace("-", ""))},
            )
        ).one()
    return dict(row._mapping)


async def test_a_step_that_changes_no_status_does_not_assign_it(traced: Traced) -> None:
    # Calls, not assigns: a run of instant steps is committed once (docs/workflow-language.md, section 5).
    steps = [
        {"id": f"a{n}", "type": "call", "service": "echo", "input": {"value": n}, "output": f"v{n}"} for n in range(5)
    ]
    definition = wf.load(doc("columns_plain", *steps, {"id": "done", "type": "end", "result": {"v": "$v4"}}))

    async def echo(value: int) -> int:
        return value

    result = await wf.Engine(definition, store=traced.store, service_resolver={"echo": echo}.get).run({})
    assert result.status == "completed"
    updates = traced.updates()
    assert len(updates) >= 5
    middle = updates[1:-1]  # the first update writes every column; the last one the end
    assert all("status" not in columns and "result" not in columns for columns in middle), middle
    assert all({"current_step", "updated_at"} <= columns for columns in middle), middle
    assert {"status", "result"} <= updates[-1]
    row = await stored(traced, result.execution_id)
    assert (row["status"], row["result"], row["error"]) == ("completed", '{"v":4}', None)


async def test_after_a_failed_step_the_row_holds_what_the_engine_has(traced: Traced) -> None:
    """A failed step's unit is rolled back (its checkpoint with it): the next write assigns every column again,
    so the row is not left with what the rolled-back update wrote."""
    definition = wf.load(
        doc(
            "columns_failing",
            {"id": "a", "type": "assign", "set": {"x": 1}},
            {"id": "bad", "type": "call", "service": "missing", "on_error": "after"},
            {"id": "after", "type": "assign", "set": {"y": 2}},
            {"id": "done", "type": "end", "result": {"x": "$x", "y": "$y"}},
        )
    )
    result = await wf.Engine(definition, store=traced.store).run({})
    assert result.status == "completed", result.error
    assert result.output == {"x": 1, "y": 2}
    row = await stored(traced, result.execution_id)
    assert (row["status"], row["result"], row["error"]) == ("completed", '{"x":1,"y":2}', None)
    everything = {"status", "current_step", "result", "recover_to", "halt_data", "error", "updated_at"}
    assert sum(1 for columns in traced.updates()[1:] if everything <= columns) >= 1  # the write after the failure
    loaded = await traced.store.load(result.execution_id)
    assert loaded is not None
    assert loaded.ctx["x"] == 1
    assert loaded.ctx["y"] == 2
