"""SAQ's job operations on PostgreSQL in one statement each (app/saq_statements.py), with SAQ's semantics kept.

Real PostgreSQL and SAQ's queue as the app builds it. The statements are counted as psycopg sends
them (every ``execute`` of a cursor, and BEGIN and COMMIT for every transaction block).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import psycopg
import pytest
from saq.job import Job, Status
from saq.queue.postgres import ENQUEUE
from saq.utils import now

from app.queue import JOB_FUNCTION
from app.saq_postgres import PackflowPostgresQueue
from tests.support.saq_queue import on_fresh_queue

pytestmark = pytest.mark.postgres


class Statements:
    """Counts the statements psycopg sends while installed (``monkeypatch``): executes, BEGIN and COMMIT;
    and the LISTENs among them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.listens = 0
        execute = psycopg.AsyncCursor.execute
        transaction = psycopg.AsyncConnection.transaction

        async def counted_execute(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            if "LISTEN" in (query.as_string(cursor.connection) if hasattr(query, "as_string") else str(query)):
                self.listens += 1
            return await execute(cursor, query, *args, **kwargs)

        def counted_transaction(connection: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 2
            return transaction(connection, *args, **kwargs)

        monkeypatch.setattr(psycopg.AsyncCursor, "execute", counted_execute)
        monkeypatch.setattr(psycopg.AsyncConnection, "transaction", counted_transaction)

    async def of(self, operation: Awaitable[Any]) -> int:
        """The statements ``operation`` sends."""
        before = self.count
        await operation
        return self.count - before


async def take(queue: PackflowPostgresQueue) -> Job:
    """Take a queued job as SAQ's worker does (dequeue, then mark it active with one attempt)."""
    job = await queue.dequeue(timeout=10)
    assert job is not None
    job.attempts += 1
    await job.update(status=Status.ACTIVE)
    return job


def test_a_job_costs_one_statement_to_enqueue_one_to_take_and_one_per_later_status_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    statements = Statements(monkeypatch)

    async def scenario(queue: PackflowPostgresQueue, _: str) -> None:
        # SAQ's own: INSERT + NOTIFY; BEGIN, UPDATE, SAVEPOINT, UPDATE, RELEASE, COMMIT, NOTIFY; BEGIN, UPDATE, COMMIT.
        assert await statements.of(queue.enqueue(JOB_FUNCTION, key="one", execution_id="x", heartbeat=60)) == 1
        taken: list[Job | None] = []

        async def dequeue() -> None:
            taken.append(await queue.dequeue(timeout=10))

        assert await statements.of(dequeue()) == 1
        job = taken[0]
        assert job is not None
        job.attempts += 1  # as SAQ's worker does
        assert await statements.of(job.update(status=Status.ACTIVE)) == 0  # the dequeue wrote it
        stored = await queue.job("one")
        assert stored is not None
        assert (stored.status, stored.attempts, stored.touched) == (Status.ACTIVE, 1, job.started)
        assert await statements.of(job.update()) == 1  # a heartbeat
        assert await statements.of(job.finish(Status.COMPLETE)) == 1
        assert (await queue.job("one")).status == Status.COMPLETE  # type: ignore[union-attr]

    on_fresh_queue(scenario)


def test_a_taken_job_is_stamped_started_and_touched_when_taken() -> None:
    async def scenario(queue: PackflowPostgresQueue, _: str) -> None:
        await queue.enqueue(JOB_FUNCTION, key="one", execution_id="x", heartbeat=60)
        before = now()
        job = await queue.dequeue(timeout=10)
        assert job is not None
        stored = await queue.job("one")  # before the worker's own update
        assert stored is not None
        assert stored.status == Status.ACTIVE
        assert before <= stored.started <= now()
        assert stored.touched == stored.started
        assert stored.attempts == 1  # as SAQ's worker counts it, before the worker's own update
        assert not stored.stuck
        assert stored.kwargs == {"execution_id": "x"}

    on_fresh_queue(scenario)


def test_a_key_queued_or_running_is_not_queued_again_and_only_a_queued_job_notifies() -> None:
    async def scenario(queue: PackflowPostgresQueue, url: str) -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listener:
            await listener.execute(f'LISTEN "{queue._channel}"')  # SAQ's channel name

            async def notifications() -> list[str]:
                received: list[str] = []
                async for notify in listener.notifies(timeout=0.5):
                    received.append(notify.payload)
                return received

            assert await queue.enqueue(JOB_FUNCTION, key="one", execution_id="x") is not None
            assert await notifications() == [ENQUEUE]
            assert await queue.enqueue(JOB_FUNCTION, key="one", execution_id="x") is None  # queued
            assert await notifications() == []
            job = await take(queue)
            assert await queue.enqueue(JOB_FUNCTION, key="one", execution_id="x") is None  # running
            await job.finish(Status.COMPLETE)
            scheduled = int(job.scheduled or now() / 1000) + 1
            again = await queue.enqueue(JOB_FUNCTION, key="one", execution_id="y", scheduled=scheduled)
            assert again is not None  # finished: queued again (SAQ's rule: a later schedule)
            stored = await queue.job("one")
            assert stored is not None
            assert (stored.status, stored.kwargs) == (Status.QUEUED, {"execution_id": "y"})
            assert await notifications() == [ENQUEUE]

    on_fresh_queue(scenario)


def test_a_heartbeat_keeps_the_status_another_process_gave_the_job() -> None:
    async def scenario(queue: PackflowPostgresQueue, _: str) -> None:
        await queue.enqueue(JOB_FUNCTION, key="one", execution_id="x", heartbeat=60)
        job = await take(queue)
        await queue.abort(queue.copy(job), error="stop")  # as a sweep or an operator does, from elsewhere
        await job.update()  # the worker's heartbeat, holding its copy that says active
        stored = await queue.job("one")
        assert stored is not None
        assert stored.status == Status.ABORTING
        assert stored.touched == job.touched

    on_fresh_queue(scenario)


def test_a_worker_waiting_again_and_again_listens_once(monkeypatch: pytest.MonkeyPatch) -> None:
    statements = Statements(monkeypatch)

    async def scenario(queue: PackflowPostgresQueue, _: str) -> None:
        for round_ in range(3):
            waiting = asyncio.create_task(queue.dequeue(timeout=30))
            await asyncio.sleep(0.3)  # listening: the job is queued after the wait began
            await queue.enqueue(JOB_FUNCTION, key=f"job-{round_}", execution_id=str(round_))
            job = await waiting
            assert job is not None
            assert job.key == f"job-{round_}"
        assert statements.listens == 1  # SAQ's listener sent LISTEN again on each wait

    on_fresh_queue(scenario)
