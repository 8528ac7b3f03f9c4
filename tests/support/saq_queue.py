"""The app's SAQ queue on a new PostgreSQL database, for the tests of app/saq_postgres.py and app/saq_statements.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from app.queue import SAQAdapter, saq_plugin
from app.saq_postgres import PackflowPostgresQueue
from app.settings import default_queue_url
from tests.support.databases import postgres_database

Scenario = Callable[[PackflowPostgresQueue, str], Awaitable[None]]
"""A test's body: the connected queue and the psycopg URL of its database."""


def on_fresh_queue(scenario: Scenario) -> None:
    """Run ``scenario`` with the app's SAQ queue (connected: SAQ creates its tables) on a new PostgreSQL database."""

    async def run(url: str) -> None:
        adapter = SAQAdapter(saq_plugin(default_queue_url(url), concurrency=1))
        queue = await adapter.connect()
        assert isinstance(queue, PackflowPostgresQueue)
        try:
            await scenario(queue, default_queue_url(url))
        finally:
            await adapter.disconnect()

    with postgres_database() as url:
        asyncio.run(run(url))
