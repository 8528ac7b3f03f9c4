"""Real worker processes on PostgreSQL: killing workers loses nothing and repeats nothing.

Three ``litestar workflows worker`` processes run 300 executions of ``queue_load`` (ten steps, four
``call`` steps that each insert an item through the step's unit of work). One worker is SIGKILLed
while it holds leases of running executions, a replacement is started, and another worker is
SIGKILLed later. Afterwards every execution is completed, every step has exactly one ``completed``
entry, and the items match the executions' call steps one for one. A second test delivers every
job twice and shows that each execution had one owner.

The helpers here (worker processes, polling, the final audit) are shared with
``test_inline_restart.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from litestar import Litestar
from saq.job import Status as JobStatus
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import create_app
from app.queue import SAQAdapter
from app.server import PackflowPlugin
from app.settings import Settings, default_queue_url
from app.workflows import WorkflowRuntime
from packs.core import workflow as wf
from packs.core.identity.accounts import create_user
from packs.core.models import Item
from packs.core.workflow.queue.worker import LeaseKeeper
from tests.databases import migrate, postgres_database
from tests.fixture_packs.queue_load import CALL_STEPS, SCHEMA, WRITE_SECONDS
from tests.test_cli_and_server import LITESTAR, REPO, environment

WORKFLOW = "queue_load"
PACK = "pftest_queue_load"
"""The fixture pack that ships ``queue_load``."""
STEPS = ("start", "prepare", "write_a", "mark_a", "write_b", "mark_b", "write_c", "mark_c", "write_d", "done")
"""Every step of ``queue_load``: each must have exactly one ``completed`` entry per execution."""
LEASE_SECONDS = 2.0
QUEUE_SETTINGS = {
    "PACKFLOW_LEASE_SECONDS": str(LEASE_SECONDS),
    "PACKFLOW_SWEEP_SECONDS": "0.5",
    "PACKFLOW_RETRY_BACKOFF_SECONDS": "0.2",
    # A loaded machine may delay a renewal past a 2 s lease: another worker then takes over (correctly);
    # room for such attempts keeps that from failing an execution.
    "PACKFLOW_MAX_ATTEMPTS": "10",
    "PACKFLOW_AUTO_MIGRATE": "false",
}
OWNER_LINE = re.compile(r"workflow worker (\S+): concurrency")


# -- processes ----------------------------------------------------------------------------------


@dataclass
class Process:
    """A subprocess whose output goes to a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    handle: IO[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        self.handle.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 25) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


@dataclass
class Processes:
    """Subprocesses started by a test; :meth:`kill_all` in a ``finally`` leaves none behind."""

    folder: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, args: Iterable[str], env: dict[str, str]) -> Process:
        log = self.folder / f"{name}.log"
        handle = log.open("wb")
        popen = subprocess.Popen([*LITESTAR, *args], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
        process = Process(name, popen, log, handle)
        self.started.append(process)
        return process

    def sigkill(self, process: Process) -> None:
        os.kill(process.pid, signal.SIGKILL)
        process.popen.wait(timeout=30)

    def logs(self) -> str:
        """The last lines of every process's output (for assertion messages)."""
        return "\n".join(f"--- {p.name} (pid {p.pid}, exit {p.popen.poll()}) ---\n{p.tail()}" for p in self.started)

    def kill_all(self) -> None:
        for process in self.started:
            if process.popen.poll() is None:
                process.popen.kill()
        for process in self.started:
            try:
                process.popen.wait(timeout=30)
            finally:
                process.handle.close()


def fixture_environment(database_url: str, fixture_packs: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess running the ``queue_load`` fixture pack on ``database_url``."""
    return environment(
        database_url,
        PACKFLOW_PACKS=PACK,
        PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)]),
        **{**QUEUE_SETTINGS, **extra},
    )


async def wait_for_owner(process: Process, processes: Processes, within: float = 60) -> str:
    """The lease owner name of a worker process, once it reports it is ready."""
    deadline = time.monotonic() + within
    while True:
        output = process.output()
        found = OWNER_LINE.search(output)
        if found is not None and f"workflow worker {found.group(1)} ready" in output:
            return found.group(1)
        assert process.popen.poll() is None, f"worker {process.name} exited while starting:\n{processes.logs()}"
        assert time.monotonic() < deadline, f"worker {process.name} not ready within {within:g}s:\n{processes.logs()}"
        await asyncio.sleep(0.1)


# -- the app in the test process ----------------------------------------------------------------


def load_app(database_url: str, **overrides: Any) -> Litestar:
    """The app (not served) on ``database_url`` with the ``queue_load`` pack: to queue executions and audit them."""
    settings = Settings(database_url=database_url, packs=(PACK,), auto_migrate=False, **overrides)
    return create_app(settings)


def runtime_of(app: Litestar) -> WorkflowRuntime:
    runtime: WorkflowRuntime = app.state.workflows
    return runtime


def engine_of(app: Litestar) -> AsyncEngine:
    return app.plugins.get(PackflowPlugin).db.get_engine()


async def make_user(app: Litestar) -> dict[str, str]:
    """A user and workspace (items need both); their ids as the workflow's input."""
    async with app.plugins.get(PackflowPlugin).db.create_session_maker()() as session:
        issued = await create_user(session, f"load-{uuid.uuid4().hex[:8]}@example.com", "Load")
        await session.commit()
    return {"user_id": str(issued.user_id), "workspace_id": str(issued.workspace_id)}


class HeldAdapter:
    """A queue adapter that delivers nothing: executions stay ``pending`` until some process picks them up."""

    def __init__(self) -> None:
        self.enqueued: list[str] = []

    async def enqueue(self, execution_id: str, delay: float = 0.0, key: str | None = None) -> None:
        self.enqueued.append(execution_id)


async def add_pending(app: Litestar, user: dict[str, str], count: int) -> list[str]:
    """Save ``count`` executions as ``pending`` without delivering them to any worker."""
    runtime = runtime_of(app)
    runner = wf.AsyncRunner(
        runtime.workflows[WORKFLOW].definition, runtime.store, HeldAdapter(), catalog=runtime.catalog
    )
    return [
        await runner.run(dict(user), workspace_id=user["workspace_id"], created_by_id=user["user_id"])
        for _ in range(count)
    ]


async def statuses(engine: AsyncEngine) -> dict[str, int]:
    """How many executions have each status."""
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT status, count(*) FROM workflow_executions GROUP BY status"))
        return {str(status): int(count) for status, count in rows.all()}


async def leased_by(engine: AsyncEngine, owner: str) -> set[str]:
    """Executions under way whose lease ``owner`` holds."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id FROM workflow_executions WHERE lease_owner = :owner AND status IN ('pending', 'running')"),
            {"owner": owner},
        )
        return {str(row[0]) for row in rows.all()}


async def wait_until_completed(engine: AsyncEngine, count: int, within: float, logs: Any = lambda: "") -> float:
    """Wait until ``count`` executions are completed (none failed); the seconds it took."""
    started = time.monotonic()
    while True:
        counts = await statuses(engine)
        assert not counts.get("failed"), f"executions failed: {counts}\n{logs()}"
        if counts.get("completed", 0) >= count:
            return time.monotonic() - started
        assert time.monotonic() - started < within, (
            f"not every execution completed within {within:g}s: {counts}\n{logs()}"
        )
        await asyncio.sleep(0.25)


# -- the audit ----------------------------------------------------------------------------------


@dataclass
class Audit:
    """What the database says about a set of executions after the run."""

    attempts: Counter[int]
    problems: list[str]

    def assert_clean(self) -> None:
        shown = "\n".join(self.problems[:20])
        assert not self.problems, f"{len(self.problems)} problem(s), the first ones:\n{shown}"


async def audit(app: Litestar, execution_ids: list[str]) -> Audit:
    """Check every execution: completed, one ``completed`` entry per step, one item per call step (no more)."""
    store = runtime_of(app).store
    problems: list[str] = []
    attempts: Counter[int] = Counter()
    results: dict[str, Any] = {}
    for execution_id in execution_ids:
        execution = await store.load(execution_id)
        if execution is None:
            problems.append(f"{execution_id}: missing")
            continue
        attempts[execution.attempts] += 1
        if execution.status != wf.Status.COMPLETED:
            problems.append(f"{execution_id}: {execution.status} ({execution.error})")
        completed = Counter(e.step_id for e in await store.entries(execution_id) if e.action == wf.Action.COMPLETED)
        if completed != dict.fromkeys(STEPS, 1):
            problems.append(f"{execution_id}: completed entries per step {dict(completed)}")
        results[execution_id] = execution.result
    async with app.plugins.get(PackflowPlugin).db.create_session_maker()() as session:
        rows = (await session.execute(select(Item.id, Item.data).where(Item.schema_slug == SCHEMA))).all()
    written = Counter((row.data["execution_id"], row.data["step"]) for row in rows)
    expected = {(execution_id, step) for execution_id in execution_ids for step in CALL_STEPS}
    problems.extend(f"{key}: {count} rows" for key, count in written.items() if count > 1)
    problems.extend(f"{key}: no row" for key in sorted(expected - written.keys()))
    problems.extend(f"{key}: a row of no execution of this test" for key in sorted(written.keys() - expected))
    ids_by_execution: dict[str, set[str]] = {}
    for row in rows:
        ids_by_execution.setdefault(row.data["execution_id"], set()).add(str(row.id))
    for execution_id, result in results.items():
        recorded = set((result or {}).get("rows") or [])
        if recorded != ids_by_execution.get(execution_id, set()):
            problems.append(f"{execution_id}: the result names rows {recorded}, the table holds others")
    return Audit(attempts, problems)


# -- the tests ----------------------------------------------------------------------------------


EXECUTIONS = 300
WORKERS = 3
CONCURRENCY = 4


async def start_executions(app: Litestar, user: dict[str, str], count: int) -> list[str]:
    """Queue ``count`` executions through the app's workflow service (a few at a time)."""
    service = runtime_of(app).service
    slots = asyncio.Semaphore(4)

    async def one() -> str:
        async with slots:
            started = await service.start(
                WORKFLOW, dict(user), workspace_id=user["workspace_id"], user_id=user["user_id"], mode="async"
            )
            return started.id

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def kill_mid_run(
    engine: AsyncEngine, processes: Processes, victim: Process, owner: str, min_completed: int, within: float = 60
) -> set[str]:
    """SIGKILL ``victim`` once ``min_completed`` executions are completed and it leases at least two under way;
    the executions it left behind (still leased by it after its death)."""
    deadline = time.monotonic() + within
    while True:
        counts = await statuses(engine)
        assert counts.get("pending", 0) + counts.get("running", 0) > 0, (
            f"every execution finished before the kill could land: {counts}"
        )
        if counts.get("completed", 0) >= min_completed and len(await leased_by(engine, owner)) >= 2:
            break
        assert time.monotonic() < deadline, (
            f"worker {victim.name} never held two leases after {min_completed} completions: {counts}\n"
            f"{processes.logs()}"
        )
        await asyncio.sleep(0.02)
    processes.sigkill(victim)
    # The database rolls the victim's open transactions back as its connections drop; its leases stay
    # until they expire (LEASE_SECONDS), which is when the recovery sweep of the others queues them again.
    await asyncio.sleep(0.3)
    orphans = await leased_by(engine, owner)
    assert orphans, f"worker {victim.name} held no lease any more when it died"
    return orphans


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
