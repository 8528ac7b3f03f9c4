"""Real worker processes on PostgreSQL: killing workers loses nothing and repeats nothing.

Three ``litestar workflows worker`` processes run 300 executions of ``queue_load`` (ten steps, four
``call`` steps that each insert an item through the step's unit of work). One worker is SIGKILLed
while it holds leases of running executions, a replacement is started, and another worker is
SIGKILLed later. Afterwards every execution is completed, every step has exactly one ``completed``
entry, and the items match the executions' call steps one for one. A second test delivers every
job twice and shows that each execution had one owner.

The helpers (worker processes, polling, the final audit) are in ``tests/support/workers.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from saq.job import Status as JobStatus

from app.queue import SAQAdapter
from app.settings import default_queue_url
from packs.core.workflow.queue.worker import LeaseKeeper
from tests.fixture_packs.queue_load import WRITE_SECONDS
from tests.support.databases import migrate, postgres_database
from tests.support.workers import (
    Processes,
    add_pending,
    audit,
    engine_of,
    fixture_environment,
    kill_mid_run,
    load_app,
    make_user,
    runtime_of,
    start_executions,
    statuses,
    wait_for_owner,
    wait_until_completed,
)

# -- the tests ----------------------------------------------------------------------------------


EXECUTIONS = 300
WORKERS = 3
CONCURRENCY = 4


async def three_workers_killed_twice(database_url: str, fixture_packs: Path, folder: Path) -> None:
    app = load_app(database_url, queue="saq", queue_url=default_queue_url(database_url))
    runtime = runtime_of(app)
    engine = engine_of(app)
    assert isinstance(runtime.adapter, SAQAdapter)
    env = fixture_environment(database_url, fixture_packs, PACKFLOW_QUEUE="saq", **{WRITE_SECONDS: "0.03"})
    processes = Processes(folder)
    try:
        user = await make_user(app)
        await runtime.adapter.connect()  # SAQ creates its tables on connect: once here, not in a race of workers
        workers = [
            processes.start(f"worker-{n}", ["workflows", "worker", "--concurrency", str(CONCURRENCY)], env)
            for n in range(WORKERS)
        ]
        owners = [await wait_for_owner(worker, processes) for worker in workers]

        began = time.monotonic()
        execution_ids = await start_executions(app, user, EXECUTIONS)
        first_orphans = await kill_mid_run(engine, processes, workers[0], owners[0], min_completed=30)
        replacement = processes.start("worker-3", ["workflows", "worker", "--concurrency", str(CONCURRENCY)], env)
        second_orphans = await kill_mid_run(engine, processes, workers[1], owners[1], min_completed=130)
        await wait_for_owner(replacement, processes)
        await wait_until_completed(engine, EXECUTIONS, within=180, logs=processes.logs)
        took = time.monotonic() - began

        result = await audit(app, execution_ids)
        result.assert_clean()
        orphans = first_orphans | second_orphans
        retried = set()
        for execution_id in orphans:
            execution = await runtime.store.load(execution_id)
            if execution is not None and execution.attempts > 1:
                retried.add(execution_id)
        assert retried == orphans, f"executions of killed workers not run again: {orphans - retried}"
        assert max(result.attempts) > 1
        print(  # figures for the report, shown with -s
            f"\n{EXECUTIONS} executions on {WORKERS} workers, 2 killed: {took:.1f}s; attempts {dict(result.attempts)}; "
            f"left by the killed workers: {len(first_orphans)} + {len(second_orphans)}"
        )

        survivors = [workers[2], replacement]
        for worker in survivors:
            worker.popen.send_signal(signal.SIGTERM)
        for worker in survivors:
            assert worker.popen.wait(timeout=30) == 0, processes.logs()
        assert await statuses(engine) == {"completed": EXECUTIONS}
    finally:
        processes.kill_all()
        await runtime.adapter.disconnect()
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.processes
def test_three_workers_two_of_them_sigkilled_lose_nothing_and_repeat_nothing(
    fixture_packs: Path, tmp_path: Path
) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(three_workers_killed_twice(url, fixture_packs, tmp_path))


DOUBLED = 20


async def every_job_delivered_twice(database_url: str, fixture_packs: Path, folder: Path) -> None:
    app = load_app(database_url, queue="saq", queue_url=default_queue_url(database_url))
    runtime = runtime_of(app)
    engine = engine_of(app)
    adapter = runtime.adapter
    assert isinstance(adapter, SAQAdapter)
    # A long lease: no lease may expire here, so that the only second claims are the second deliveries'.
    env = fixture_environment(
        database_url, fixture_packs, PACKFLOW_QUEUE="saq", PACKFLOW_LEASE_SECONDS="30", **{WRITE_SECONDS: "0.05"}
    )
    processes = Processes(folder)
    try:
        user = await make_user(app)
        queue = await adapter.connect()
        workers = [
            processes.start(f"worker-{n}", ["workflows", "worker", "--concurrency", str(CONCURRENCY)], env)
            for n in range(2)
        ]
        for worker in workers:
            await wait_for_owner(worker, processes)

        execution_ids = await add_pending(app, user, DOUBLED)
        deliveries = [(execution_id, f"{n}:{execution_id}") for execution_id in execution_ids for n in ("one", "two")]
        keys = [key for _, key in deliveries]
        await asyncio.gather(*(adapter.enqueue(execution_id, key=key) for execution_id, key in deliveries))
        await wait_until_completed(engine, DOUBLED, within=60, logs=processes.logs)

        result = await audit(app, execution_ids)
        result.assert_clean()
        # A claim counts an attempt only when it takes the lease: one attempt means one owner.
        assert result.attempts == {1: DOUBLED}
        deadline = time.monotonic() + 30
        while True:
            jobs = await queue.jobs(keys)
            states = Counter(job.status.value if job is not None else "gone" for job in jobs)
            if states == {JobStatus.COMPLETE.value: len(keys)}:
                break
            assert time.monotonic() < deadline, f"the deliveries did not all finish: {states}\n{processes.logs()}"
            await asyncio.sleep(0.2)
        # Both deliveries of an execution were being processed at the same time, at least for some.
        by_key = {job.key: job for job in jobs if job is not None}
        overlapping = [
            execution_id
            for execution_id in execution_ids
            if by_key[f"one:{execution_id}"].started < by_key[f"two:{execution_id}"].completed
            and by_key[f"two:{execution_id}"].started < by_key[f"one:{execution_id}"].completed
        ]
        assert overlapping, "no execution had its two deliveries processed at the same time"
        print(
            f"\n{DOUBLED} executions delivered twice: {len(overlapping)} with both deliveries at once, one owner each"
        )
    finally:
        processes.kill_all()
        await adapter.disconnect()
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.processes
def test_a_job_delivered_twice_runs_once(fixture_packs: Path, tmp_path: Path) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(every_job_delivered_twice(url, fixture_packs, tmp_path))


class RenewalCutShort:
    """A store whose second renewal waits for a lock and, when cancelled, raises another error (as SQLAlchemy
    did for a SQLite statement cut short)."""

    def __init__(self) -> None:
        self.renewals = 0
        self.second = asyncio.Event()

    async def renew(self, execution_id: str, owner: str, lease_seconds: float) -> bool:
        self.renewals += 1
        if self.renewals == 2:
            self.second.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                raise RuntimeError("the rollback of the connection failed") from None
        return True


async def test_a_lease_keeper_stops_when_its_renewal_is_cut_short() -> None:
    """The keeper must end with the run even when its cancellation surfaces as another error: before, it went on
    renewing the lease of the finished execution, and the worker's job never returned."""
    store = RenewalCutShort()
    keeper = LeaseKeeper(store, "execution", "owner", 0.3, logging.getLogger("tests.lease_keeper"))  # type: ignore[arg-type]

    async def run() -> None:
        async with keeper:
            await store.second.wait()

    running = asyncio.create_task(run())
    done, _ = await asyncio.wait({running}, timeout=3)
    if not done:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert done, f"the keeper did not stop with the run: {store.renewals} renewals"
    renewals = store.renewals
    await asyncio.sleep(0.3)
    assert (store.renewals, keeper.lost) == (renewals, False)


REDIS_URL = os.environ.get("PACKFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def redis_answers(url: str) -> str | None:
    """``None`` when Redis answers at ``url``, else why not."""
    from redis.asyncio import from_url

    client = from_url(url)
    try:
        await client.ping()
        return None
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    finally:
        await client.aclose()


async def workers_on_redis(database_url: str, fixture_packs: Path, folder: Path, queue_name: str) -> None:
    settings = {"queue": "saq", "queue_url": REDIS_URL, "queue_name": queue_name}
    app = load_app(database_url, **settings)
    runtime = runtime_of(app)
    engine = engine_of(app)
    adapter = runtime.adapter
    assert isinstance(adapter, SAQAdapter)
    env = fixture_environment(
        database_url,
        fixture_packs,
        PACKFLOW_QUEUE="saq",
        PACKFLOW_QUEUE_URL=REDIS_URL,
        PACKFLOW_QUEUE_NAME=queue_name,
        **{WRITE_SECONDS: "0.01"},
    )
    processes = Processes(folder)
    try:
        user = await make_user(app)
        workers = [
            processes.start(f"redis-worker-{n}", ["workflows", "worker", "--concurrency", "4"], env) for n in range(2)
        ]
        for worker in workers:
            await wait_for_owner(worker, processes)
        execution_ids = await start_executions(app, user, 40)
        await wait_until_completed(engine, 40, within=90, logs=processes.logs)
        (await audit(app, execution_ids)).assert_clean()
    finally:
        processes.kill_all()
        queue = await adapter.connect()
        redis = getattr(queue, "redis", None)
        if redis is not None:
            keys = [key async for key in redis.scan_iter(match=f"saq:{queue_name}*")]
            if keys:
                await redis.delete(*keys)
        await adapter.disconnect()
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.processes
def test_workers_share_a_queue_on_redis(fixture_packs: Path, tmp_path: Path) -> None:
    problem = asyncio.run(redis_answers(REDIS_URL))
    if problem is not None:
        reason = f"no Redis answers at {REDIS_URL} ({problem}); start one or set PACKFLOW_TEST_REDIS_URL"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    with postgres_database() as url:
        migrate(url)
        asyncio.run(workers_on_redis(url, fixture_packs, tmp_path, f"packflow-test-{uuid.uuid4().hex[:12]}"))
