"""Workflow fixtures: the same tests run on MemoryStore and on the SQL store over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import configure_engine
from packs.core import workflow as wf
from tests.support.databases import migrate, postgres_database, sqlite_url
from tests.support.engine import empty_workflow_tables, sql_store

STORES = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session", params=STORES)
def store_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """``None`` for the in-memory store, else the URL of a migrated database."""
    if request.param == "memory":
        yield None
    elif request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("workflow-sqlite"))
        migrate(url)
        yield url
    else:
        with postgres_database() as url:
            migrate(url)
            yield url


@pytest.fixture
async def store(store_backend: str | None) -> AsyncIterator[wf.Store]:
    """An empty store of the current backend."""
    if store_backend is None:
        yield wf.MemoryStore()
        return
    engine = configure_engine(create_async_engine(store_backend))
    await empty_workflow_tables(engine)
    yield sql_store(engine)
    await engine.dispose()


@pytest.fixture(autouse=True)
def clean_workflow_registry() -> Iterator[None]:
    """Every test starts with no registered workflows and the default configuration."""
    wf.clear_registry()
    wf.configure()
    yield
    wf.clear_registry()
    wf.configure()
