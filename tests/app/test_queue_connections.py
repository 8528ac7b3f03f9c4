"""SAQ's PostgreSQL connections commit asynchronously; the store's connections keep the server's setting.

A job row is a delivery (app/queue.py, ``SAQ_CONNECTION_OPTIONS``): losing its last writes in a
server crash costs a repeated or a swept delivery, while an execution's checkpoints stay durable.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from app.database import database_config
from app.queue import SAQAdapter, saq_plugin
from app.settings import default_queue_url
from tests.support.databases import migrate, postgres_database
from tests.support.harness import make_settings


async def synchronous_commit(url: str) -> tuple[str, str]:
    """(SAQ's connections, the store's engine): their ``synchronous_commit``."""
    adapter = SAQAdapter(saq_plugin(default_queue_url(url), concurrency=1))
    queue = await adapter.connect()
    try:
        async with queue.pool.connection() as connection:  # type: ignore[attr-defined]
            row = await (await connection.execute("SHOW synchronous_commit")).fetchone()
            saq = str(row[0])
    finally:
        await adapter.disconnect()
    engine = database_config(make_settings(url)).get_engine()
    try:
        async with engine.connect() as connection:
            store = str((await connection.execute(text("SHOW synchronous_commit"))).scalar_one())
    finally:
        await engine.dispose()
    return saq, store


@pytest.mark.postgres
def test_saq_commits_without_waiting_for_the_wal_flush_and_the_store_waits() -> None:
    with postgres_database() as url:
        migrate(url)
        assert asyncio.run(synchronous_commit(url)) == ("off", "on")
