"""The SQL store's ``INSERT ... ON CONFLICT DO NOTHING`` statements (``packs.core.workflow.stores.sql.conflicts``)
are compiled once per engine: the second execution start and the second definition snapshot are hits of
SQLAlchemy's compiled cache, and the statements still skip a row that exists, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.database import configure_engine
from packs.core import workflow as wf
from packs.core.models import WorkflowExecution
from packs.core.models.workflow import WorkflowDefinition
from packs.core.workflow.model import new_id
from packs.core.workflow.stores.sql.conflicts import InsertIgnoringConflicts
from tests.support.engine import SQL_STORES, empty_workflow_tables, sql_store

EXECUTIONS = WorkflowExecution.__table__


@pytest.fixture
async def engine(store_backend: str) -> AsyncIterator[AsyncEngine]:
    engine = configure_engine(create_async_engine(store_backend))
    await empty_workflow_tables(engine)
    yield engine
    await engine.dispose()


def cache_of_inserts(engine: AsyncEngine) -> list[str]:
    """How SQLAlchemy's compiled cache served each ``ON CONFLICT`` insert the engine runs from now on (the
    execution context's ``cache_hit``: hit, miss, or no cache key)."""
    seen: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def record(_: Any, __: Any, statement: str, ___: Any, context: DefaultExecutionContext, ____: bool) -> None:
        if "ON CONFLICT" in statement:
            seen.append(context.cache_hit.name)

    return seen


def new_execution() -> wf.Execution:
    return wf.Execution(id=new_id(), workflow_id="conflicts_test", status=wf.Status.PENDING, input={"n": 1})


@SQL_STORES
async def test_starting_executions_compiles_the_insert_once(engine: AsyncEngine) -> None:
    store = sql_store(engine)
    seen = cache_of_inserts(engine)
    first, second = new_execution(), new_execution()
    assert await store.add(first)
    assert await store.add(second)
    assert seen == ["CACHE_MISS", "CACHE_HIT"]  # the dialects' own construct: ["NO_CACHE_KEY", "NO_CACHE_KEY"]
    assert not await store.add(first)  # the same id again: skipped, not an error
    assert seen[-1] == "CACHE_HIT"
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(EXECUTIONS)) == 2


@SQL_STORES
async def test_definition_snapshots_compile_their_insert_once(engine: AsyncEngine) -> None:
    store = sql_store(engine)  # with the app's definition snapshots
    seen = cache_of_inserts(engine)
    for version in ("1", "2", "2"):
        definition = wf.load(
            {"id": "conflicts_test", "name": "Conflicts", "version": version, "steps": [{"id": "done", "type": "end"}]}
        )
        await store.save_definition(definition)
    assert seen == ["CACHE_MISS", "CACHE_HIT", "CACHE_HIT"]
    table = WorkflowDefinition.__table__
    async with engine.connect() as connection:
        versions = (await connection.scalars(select(table.c.version).order_by(table.c.version))).all()
    assert versions == ["1", "2"]  # the third, same content as the second, was skipped


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()], ids=["postgresql", "sqlite"])
def test_the_conflict_columns_are_part_of_the_cache_key(dialect: Any) -> None:
    by_id = InsertIgnoringConflicts(dialect.name, EXECUTIONS, ["id"])
    by_workflow = InsertIgnoringConflicts(dialect.name, EXECUTIONS, ["workflow_id"])
    same = InsertIgnoringConflicts(dialect.name, EXECUTIONS, ["id"])
    assert by_id._generate_cache_key() == same._generate_cache_key()
    assert by_id._generate_cache_key() != by_workflow._generate_cache_key()
    assert str(by_id.compile(dialect=dialect)).endswith("ON CONFLICT (id) DO NOTHING")
    assert str(by_workflow.compile(dialect=dialect)).endswith("ON CONFLICT (workflow_id) DO NOTHING")
    returning = by_id.values(id=None).returning(EXECUTIONS.c.id)
    assert "ON CONFLICT (id) DO NOTHING RETURNING " in str(returning.compile(dialect=dialect))


def test_other_dialects_are_refused() -> None:
    with pytest.raises(NotImplementedError, match="not mysql"):
        InsertIgnoringConflicts("mysql", EXECUTIONS, ["id"])
