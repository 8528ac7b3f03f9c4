"""The app's connection pool on PostgreSQL keeps a connection for each execution running at once.

A run holds one connection throughout (the SQL store's execution scope); with SQLAlchemy's default
pool of five, a worker running ``PACKFLOW_WORKER_CONCURRENCY`` executions closed connections on
return and opened new ones (a server process and asyncpg's type introspection each) all the time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import async_sessionmaker

from app import create_app
from app.database import POOL_HEADROOM, concurrent_runs, database_config, pool_options
from packs.core import workflow as wf
from packs.core.db import bind_session
from packs.core.models import WorkflowDefinition, WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore
from tests.support.databases import migrate, postgres_database, sqlite_url
from tests.support.harness import make_settings

CONCURRENCY = 8
ROUNDS = 3
DOCUMENT: dict[str, Any] = {
    "id": "pooled",
    "name": "Pooled",
    "steps": [
        {"id": "start", "type": "start", "next": "wait"},
        {"id": "wait", "type": "call", "service": "svc", "method": "wait", "output": "waited", "next": "end"},
        {"id": "end", "type": "end", "result": "$waited"},
    ],
}


class Services:
    """``wait`` returns once every run of the round has reached it: the round's runs overlap."""

    def __init__(self) -> None:
        self.arrived = 0
        self.all_in = asyncio.Event()

    async def wait(self) -> dict[str, bool]:
        self.arrived += 1
        if self.arrived % CONCURRENCY == 0:
            self.all_in.set()
        await asyncio.wait_for(self.all_in.wait(), 10)
        return {"ok": True}


async def connections_opened_per_round(url: str) -> list[int]:
    engine = database_config(make_settings(url, worker_concurrency=CONCURRENCY)).get_engine()
    opened = [0]

    def count(*_: Any) -> None:
        opened[0] += 1

    event.listen(engine.sync_engine, "connect", count)
    store = SQLStore(
        async_sessionmaker(engine, expire_on_commit=False),
        WorkflowExecution,
        WorkflowEntry,
        bind_session=bind_session,
        definition_class=WorkflowDefinition,
    )
    definition = wf.load(DOCUMENT)
    services = Services()
    worker = wf.Worker(
        store, wf.DefinitionCatalog(store, {definition.id: definition}), service_resolver={"svc": services}.get
    )
    per_round = []
    try:
        for _ in range(ROUNDS):
            services.all_in.clear()
            before = opened[0]
            ids = []
            for _ in range(CONCURRENCY):
                execution = wf.Engine(definition, store).new_execution({}, status=wf.Status.PENDING)
                assert await store.add(execution)
                ids.append(execution.id)
            results = await asyncio.gather(*(worker.process(execution_id) for execution_id in ids))
            assert [result.status if result else None for result in results] == ["completed"] * CONCURRENCY
            per_round.append(opened[0] - before)
    finally:
        await engine.dispose()
    return per_round


@pytest.mark.postgres
def test_a_worker_at_full_concurrency_opens_no_connection_after_its_first_round() -> None:
    with postgres_database() as url:
        migrate(url)
        first, *later = asyncio.run(connections_opened_per_round(url))
    assert first >= CONCURRENCY  # each run of the round held a connection of its own
    assert later == [0] * (ROUNDS - 1)


def test_the_pool_follows_the_worker_concurrency_on_a_server_database_only(tmp_path: Any) -> None:
    postgres = make_settings("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", worker_concurrency=12)
    assert pool_options(postgres) == {"pool_size": 12 + POOL_HEADROOM}
    assert database_config(postgres).get_engine().pool.size() == 12 + POOL_HEADROOM  # type: ignore[attr-defined]
    assert pool_options(make_settings(sqlite_url(tmp_path), worker_concurrency=12)) == {}
    # A SAQ worker runs what its timers woke beside its jobs: as many again.
    on_saq = make_settings(postgres.database_url, worker_concurrency=12, queue="saq", queue_url="redis://localhost")
    assert pool_options(on_saq) == {"pool_size": 24 + POOL_HEADROOM}


def test_the_app_keeps_a_started_connection_for_each_run_that_may_be_under_way(tmp_path: Any) -> None:
    postgres = make_settings("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", worker_concurrency=12)
    on_saq = make_settings(postgres.database_url, worker_concurrency=12, queue="saq", queue_url="redis://localhost")
    sqlite = make_settings(sqlite_url(tmp_path), worker_concurrency=12)
    assert [concurrent_runs(settings) for settings in (postgres, on_saq, sqlite)] == [12, 24, 0]
    store = create_app(on_saq).state.workflows.store
    assert store._scope_connections.limit == 24


def test_a_process_builds_a_thousand_and_more_database_configurations(tmp_path: Any) -> None:
    """advanced-alchemy makes each configuration's keys unique by trying ``key_1``, ``key_2``, ... recursively over
    every key a configuration of the process ever took: with the default keys, the test run's thousandth app
    failed with a RecursionError."""
    settings = make_settings(sqlite_url(tmp_path))
    keys = set()
    for _ in range(1200):
        config = database_config(settings)
        keys.add(config.session_scope_key)
    assert len(keys) == 1200
