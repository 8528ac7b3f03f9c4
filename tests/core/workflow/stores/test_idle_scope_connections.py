"""Run connections kept started between execution scopes (``packs.core.workflow.stores.sql.scopes``): a run after
another takes the connection the last one ended with, not a pool checkout; a scope that failed, a connection in a
transaction and those past the limit go back to the pool; disposing the engine closes the kept ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.database import configure_engine
from packs.core.models import WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore
from packs.core.workflow.stores.sql.scopes import IdleConnections
from tests.support.engine import SQL_STORES


@dataclass
class PoolEvents:
    """What the engine's pool did: connections checked out, checked in, and closed."""

    checkouts: int = 0
    checkins: int = 0
    closed: list[Any] = field(default_factory=list)


@pytest.fixture
async def engine(store_backend: str) -> AsyncIterator[AsyncEngine]:
    engine = configure_engine(create_async_engine(store_backend))
    yield engine
    await engine.dispose()


@pytest.fixture
def pool(engine: AsyncEngine) -> PoolEvents:
    seen = PoolEvents()
    sync = engine.sync_engine

    @event.listens_for(sync, "checkout")
    def checkout(*_: Any) -> None:
        seen.checkouts += 1

    @event.listens_for(sync, "checkin")
    def checkin(*_: Any) -> None:
        seen.checkins += 1

    @event.listens_for(sync, "close")
    def close(dbapi_connection: Any, _: Any) -> None:
        seen.closed.append(dbapi_connection)

    return seen


def store_on(engine: AsyncEngine, idle_scopes: int) -> SQLStore:
    return SQLStore(async_sessionmaker(engine), WorkflowExecution, WorkflowEntry, idle_scopes=idle_scopes)


async def run_in_scope(store: SQLStore) -> None:
    """What a run's unit does with the database: one statement in the scope's transaction."""
    async with store.execution_scope(), store.unit(), store._session() as session:
        await session.execute(text("SELECT 1"))


@SQL_STORES
@pytest.mark.parametrize(
    ("idle_scopes", "checkouts_and_checkins"),
    [(2, (1, 0)), (0, (5, 5))],
    ids=["kept: the connection the last run ended with", "none kept: a checkout per run"],
)
async def test_runs_one_after_another(
    engine: AsyncEngine, pool: PoolEvents, idle_scopes: int, checkouts_and_checkins: tuple[int, int]
) -> None:
    store = store_on(engine, idle_scopes=idle_scopes)
    for _ in range(5):
        await run_in_scope(store)
    assert (pool.checkouts, pool.checkins) == checkouts_and_checkins


@SQL_STORES
async def test_a_scope_that_raised_gives_its_connection_back_to_the_pool(engine: AsyncEngine, pool: PoolEvents) -> None:
    store = store_on(engine, idle_scopes=2)
    with pytest.raises(RuntimeError):
        async with store.execution_scope():
            raise RuntimeError("the run failed")
    assert pool.checkins == 1
    await run_in_scope(store)
    assert pool.checkouts == 2  # nothing was kept: the next run checked one out


@SQL_STORES
async def test_no_more_connections_are_kept_than_the_limit(engine: AsyncEngine, pool: PoolEvents) -> None:
    store = store_on(engine, idle_scopes=2)
    inside = asyncio.Barrier(4)

    async def run() -> None:
        async with store.execution_scope():
            await inside.wait()  # three scopes open at once

    await asyncio.gather(run(), run(), run(), inside.wait())
    assert (pool.checkouts, pool.checkins) == (3, 1)
    for _ in range(2):
        await run_in_scope(store)
    assert pool.checkouts == 3


@SQL_STORES
async def test_a_connection_left_in_a_transaction_is_not_kept(engine: AsyncEngine, pool: PoolEvents) -> None:
    idle = IdleConnections(engine, limit=2)
    connection = await idle.take()
    await connection.begin()
    await idle.give_back(connection, reusable=True)
    assert len(idle) == 0
    assert pool.checkins == 1


@SQL_STORES
async def test_disposing_the_engine_closes_the_kept_connections(engine: AsyncEngine, pool: PoolEvents) -> None:
    store = store_on(engine, idle_scopes=2)
    await run_in_scope(store)
    assert pool.closed == []
    await engine.dispose()
    assert len(pool.closed) == 1  # the kept one, though it was never checked in
    await run_in_scope(store)  # the store goes on with the engine's new pool
    assert pool.checkouts == 2


@pytest.mark.parametrize("store_backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_on_postgresql_the_server_sees_the_kept_connection_go_at_disposal(
    engine: AsyncEngine, store_backend: str
) -> None:
    store = store_on(engine, idle_scopes=2)
    await run_in_scope(store)
    database = engine.url.database
    watcher = create_async_engine(store_backend, poolclass=None)

    async def backends() -> int:
        async with watcher.connect() as connection:
            query = text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()")
            return int((await connection.execute(query, {"db": database})).scalar_one())

    try:
        assert await backends() == 1
        await engine.dispose()
        for _ in range(100):  # the server ends the backend a moment after the client closed it
            if await backends() == 0:
                break
            await asyncio.sleep(0.02)
        assert await backends() == 0
    finally:
        await watcher.dispose()
