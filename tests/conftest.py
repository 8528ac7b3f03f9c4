"""Fixtures: a migrated database per backend and run, an app per test, accounts and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, text

from app import create_app
from app.server import PackflowPlugin
from app.settings import Settings
from packs.core.identity.accounts import IssuedToken, create_token, create_user
from packs.core.testing import started
from tests.databases import migrate, postgres_database, sqlite_url, truncate
from tests.fixture_packs.install import install_fixture_packs

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for this test run: SQLite, then PostgreSQL (tests run once per backend)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("sqlite"))
        migrate(url)
        yield url
        return
    with postgres_database() as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database, for tests that need one backend only."""
    url = sqlite_url(tmp_path_factory.mktemp("sqlite-only"))
    migrate(url)
    return url


def make_settings(database_url: str, packs: tuple[str, ...] = ("contacts_service",), **overrides: Any) -> Settings:
    """Settings for a test app on ``database_url`` (no auto-migration: the fixture migrated already)."""
    return Settings(database_url=database_url, packs=packs, auto_migrate=False, **overrides)


@dataclass
class Harness:
    """An app under test with helpers to make accounts and look at what was written."""

    app: Litestar

    @property
    def plugin(self) -> PackflowPlugin:
        return self.app.plugins.get(PackflowPlugin)

    async def user(self, email: str = "ada@example.com", workspace: str = "Acme") -> IssuedToken:
        """Create (or reuse) a user and workspace; a new token each call."""
        async with self.plugin.db.create_session_maker()() as session:
            issued = await create_user(session, email, workspace)
            await session.commit()
            return issued

    async def token(self, email: str) -> IssuedToken:
        async with self.plugin.db.create_session_maker()() as session:
            issued = await create_token(session, email)
            await session.commit()
            return issued

    async def count(self, table: str, where: str = "1=1") -> int:
        """Rows in ``table`` (optionally filtered by a SQL condition)."""
        async with self.plugin.db.get_engine().connect() as connection:
            statement = select(func.count()).select_from(text(table)).where(text(where))
            return int((await connection.execute(statement)).scalar_one())


@asynccontextmanager
async def harness_for(settings: Settings) -> AsyncIterator[Harness]:
    """An app built from ``settings`` on an emptied database; its engine is disposed afterwards."""
    harness = Harness(create_app(settings))
    await truncate(harness.plugin.db.get_engine())
    try:
        yield harness
    finally:
        await harness.plugin.db.get_engine().dispose()


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    """The app with contacts_service enabled, on an emptied database of the current backend."""
    async with harness_for(make_settings(database_url)) as built:
        yield built


@asynccontextmanager
async def http_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to ``app`` through ASGI, in the test's own event loop, lifespan included."""
    async with (
        started(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as test_client,
    ):
        yield test_client


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the harness app."""
    async with http_client(harness.app) as test_client:
        yield test_client


def auth(issued: IssuedToken, workspace_id: Any = None) -> dict[str, str]:
    """Headers for requests as ``issued``'s user (optionally in a chosen workspace)."""
    headers = {"Authorization": f"Bearer {issued.token}"}
    if workspace_id is not None:
        headers["X-Workspace-Id"] = str(workspace_id)
    return headers


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def fixture_packs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test packs of ``tests/fixture_packs``, installed through a real ``packflow.packs`` entry point.

    Answers the folder holding their ``.dist-info`` (put it on ``PYTHONPATH`` for subprocesses).
    """
    folder = tmp_path_factory.mktemp("site")
    install_fixture_packs(folder)
    return folder


@pytest.fixture
async def probe(database_url: str) -> AsyncIterator[Harness]:
    """The app with contacts_service and the probe pack enabled."""
    async with harness_for(make_settings(database_url, packs=("contacts_service", "pftest_probe"))) as built:
        yield built


@pytest.fixture
async def probe_client(probe: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the probe app."""
    async with http_client(probe.app) as test_client:
        yield test_client
