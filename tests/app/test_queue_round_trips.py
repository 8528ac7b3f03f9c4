"""The SAQ queue on PostgreSQL takes few round trips per job (app/queue.py, ``JobQueue``).

What SAQ's worker does with a job (dequeue it, mark it active, finish it) is counted on the client:
every statement and every transaction (BEGIN/COMMIT or SAVEPOINT/RELEASE, two round trips each).
SAQ's own ``PostgresQueue`` takes 13 round trips per job; the app's queue takes 7, with the same
rows written: the job is ``active`` with its start and touch times once dequeued, ``complete`` with
its expiry once finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
import pytest
from saq.job import Status
from saq.queue.postgres import PostgresQueue

from app.queue import JOB_TTL_SECONDS, JobQueue, saq_plugin
from app.settings import default_queue_url
from tests.support.databases import postgres_database

JOBS = 5


@contextmanager
def counting_round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A one-item list holding the round trips to the server since the block began (statements + 2 per transaction)."""
    count = [0]
    execute = psycopg.AsyncCursor.execute
    transaction = psycopg.AsyncConnection.transaction

    async def counted_execute(self: psycopg.AsyncCursor[Any], *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return await execute(self, *args, **kwargs)

    @asynccontextmanager
    async def counted_transaction(self: psycopg.AsyncConnection[Any], *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        count[0] += 2
        async with transaction(self, *args, **kwargs) as opened:
            yield opened

    with monkeypatch.context() as patch:
        patch.setattr(psycopg.AsyncCursor, "execute", counted_execute)
        patch.setattr(psycopg.AsyncConnection, "transaction", counted_transaction)
        yield count


async def round_trips_per_job(url: str, monkeypatch: pytest.MonkeyPatch, plain: bool) -> float:
    plugin = saq_plugin(default_queue_url(url), concurrency=1, name="round-trips")
    queue = plugin.get_queue("round-trips")
    assert isinstance(queue, JobQueue)
    if plain:  # SAQ's own queue on the same pool, for the comparison
        queue = PostgresQueue(queue.pool, name="round-trips", manage_pool_lifecycle=True)
    await queue.connect()
    try:
        keys = []
        for n in range(JOBS):
            job = await queue.enqueue("task", key=f"job-{n}", heartbeat=60, ttl=JOB_TTL_SECONDS, n=n)
            assert job is not None
            keys.append(job.key)
        with counting_round_trips(monkeypatch) as count:
            for _ in range(JOBS):
                # What saq.Worker.process does with a job, but running it.
                dequeued = await queue.dequeue()
                assert dequeued is not None
                stored = await queue.job(dequeued.key)
                count[0] -= 1  # the check above is not the worker's
                assert stored is not None
                assert stored.status == Status.ACTIVE
                assert stored.started == dequeued.started > 0
                assert stored.touched == dequeued.touched > 0
                dequeued.attempts += 1
                await dequeued.update(status=Status.ACTIVE)
                await dequeued.finish(Status.COMPLETE, result={"ok": True})
            trips = count[0]
        for key in keys:
            finished = await queue.job(key)
            assert finished is not None
            assert (finished.status, finished.attempts) == (Status.COMPLETE, 1)
            assert finished.result == {"ok": True}
        return trips / JOBS
    finally:
        await queue.disconnect()


@pytest.mark.postgres
def test_a_job_takes_seven_round_trips_instead_of_thirteen(monkeypatch: pytest.MonkeyPatch) -> None:
    with postgres_database() as url:
        assert asyncio.run(round_trips_per_job(url, monkeypatch, plain=True)) == 13
    with postgres_database() as url:
        assert asyncio.run(round_trips_per_job(url, monkeypatch, plain=False)) == 7
