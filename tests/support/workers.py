"""Worker processes for the fixture packs: starting and SIGKILLing them, polling, the final audit.

The ``queue_load`` pack's (``test_worker_processes.py``, ``test_worker_saq_jobs.py``,
``test_inline_restart.py``) and the HTTP fixture pack's (``pftest_workflow_http``: the retry, timer and
sub-workflow process tests, :func:`http_app`, :func:`http_environment`).
"""

from __future__ import annotations

import asyncio
import datetime
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

from litestar import Litestar
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import create_app
from app.plugin import PackflowPlugin
from app.settings import Settings
from app.workflows import WorkflowRuntime
from packs.core import workflow as wf
from packs.core.identity.accounts import create_user
from packs.core.models import Item
from tests.fixture_packs.queue_load import CALL_STEPS, SCHEMA
from tests.support.processes import LITESTAR, REPO, environment

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


HTTP_PACKS = ("contacts_service", "pftest_workflow_http")
"""The packs of the HTTP fixture workflows (``tests/fixture_packs/workflows/http/``)."""


def http_environment(database_url: str, fixture_packs: Path, **extra: str) -> dict[str, str]:
    """The environment of a subprocess running the HTTP fixture workflows on ``database_url``, with the short
    leases of :data:`QUEUE_SETTINGS` and a timer sweep every half second (``extra`` wins)."""
    return environment(
        database_url,
        PACKFLOW_PACKS=",".join(HTTP_PACKS),
        PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)]),
        **{**QUEUE_SETTINGS, "PACKFLOW_TIMER_RESOLUTION_SECONDS": "0.5", **extra},
    )


# -- the app in the test process ----------------------------------------------------------------


def http_app(database_url: str, **overrides: Any) -> Litestar:
    """The app (not served) on ``database_url`` with :data:`HTTP_PACKS`: to queue executions and audit them."""
    return create_app(Settings(database_url=database_url, packs=HTTP_PACKS, auto_migrate=False, **overrides))


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


async def add_held(
    app: Litestar, user: dict[str, str], workflow: str, input: dict[str, Any], count: int = 1
) -> list[str]:
    """Save ``count`` executions of ``workflow`` as ``pending``, the user's, without delivering them to any worker."""
    runtime = runtime_of(app)
    runner = wf.AsyncRunner(
        runtime.workflows[workflow].definition, runtime.store, HeldAdapter(), catalog=runtime.catalog
    )
    return [
        await runner.run(dict(input), workspace_id=user["workspace_id"], created_by_id=user["user_id"])
        for _ in range(count)
    ]


async def add_pending(app: Litestar, user: dict[str, str], count: int) -> list[str]:
    """Save ``count`` executions of ``queue_load`` as ``pending`` without delivering them to any worker."""
    return await add_held(app, user, WORKFLOW, user, count)


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


async def wait_for_statuses(engine: AsyncEngine, wanted: dict[str, int], within: float, logs: Any) -> None:
    """Wait until the executions' counts by status are exactly ``wanted``; ``logs()`` explains a timeout."""
    deadline = time.monotonic() + within
    while (found := await statuses(engine)) != wanted:
        assert time.monotonic() < deadline, f"statuses {found}, wanted {wanted}\n{logs()}"
        await asyncio.sleep(0.1)


def aware(value: Any) -> datetime.datetime:
    """A timestamp read from the database (a datetime, or ISO text on SQLite) as an aware UTC datetime."""
    moment = value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


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


async def start_executions(app: Litestar, user: dict[str, str], count: int) -> list[str]:
    """Queue ``count`` executions through the app's workflow service (a few at a time)."""
    service = runtime_of(app).service
    slots = asyncio.Semaphore(4)

    async def one() -> str:
        async with slots:
            started = await service.start(
                WORKFLOW, dict(user), workspace_id=user["workspace_id"], user_id=user["user_id"], mode="async"
            )
            return started.execution.id

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
