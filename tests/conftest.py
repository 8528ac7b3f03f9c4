"""Fixtures: a migrated database per backend and run, an app per test, accounts and an HTTP client.

The helpers behind them (``Harness``, ``harness_for``, ``make_settings``, ``http_client``, ``auth``)
live in ``tests/support/harness.py``; tests import them from there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixture_packs.install import install_fixture_packs
from tests.support.databases import BACKENDS, migrate, postgres_database, sqlite_url
from tests.support.harness import Harness, harness_for, http_client, make_settings

pytest_plugins = ("pytester",)  # test_testing_plugin runs a pack author's suite of its own


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


@pytest.fixture(params=BACKENDS)
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: nothing migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    """The app with contacts_service enabled, on an emptied database of the current backend."""
    async with harness_for(make_settings(database_url)) as built:
        yield built


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the harness app."""
    async with http_client(harness.app) as test_client:
        yield test_client


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
