"""The app under test: settings, the harness that makes accounts and counts rows, an ASGI client, auth headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import func, select, text

from app import create_app
from app.plugin import PackflowPlugin
from app.settings import Settings
from packs.core.identity.accounts import IssuedToken, create_token, create_user
from packs.core.testing import started
from tests.support.databases import truncate


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


@asynccontextmanager
async def http_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client speaking to ``app`` through ASGI, in the test's own event loop, lifespan included."""
    async with (
        started(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as test_client,
    ):
        yield test_client


def auth(issued: IssuedToken, workspace_id: Any = None) -> dict[str, str]:
    """Headers for requests as ``issued``'s user (optionally in a chosen workspace)."""
    headers = {"Authorization": f"Bearer {issued.token}"}
    if workspace_id is not None:
        headers["X-Workspace-Id"] = str(workspace_id)
    return headers
