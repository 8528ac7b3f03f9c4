"""Durable timers with real processes: no wait lives in a process's memory.

See docs/workflow-language.md, Waits and durable timers.

- PostgreSQL, SAQ workers: a worker runs an execution into a ``wait`` of a few seconds and is SIGKILLed;
  another worker, started after, wakes it on time and finishes it.
- PostgreSQL, two SAQ workers sweeping together over executions whose waits all come due at once:
  every timer fires once, every execution completes, each wait step completes once.
- PostgreSQL, SAQ workers: a worker that fired timers runs what they woke itself; SIGKILLed while it
  holds some of those executions (one in its next step, one claimed and not started yet), another
  worker finishes every one, each step once.
- SQLite, the inline queue: the server is SIGKILLed during a wait and stays down past the due time;
  the timer fires when the next server starts (late, not lost).
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.queue import SAQAdapter
from app.settings import default_queue_url
from app.workflows import WorkflowRuntime
from packs.core.models import WorkflowTimer
from tests.support.databases import migrate, postgres_database, sqlite_url
from tests.support.processes import free_port
from tests.support.workers import (
    Processes,
    add_held,
    aware,
    engine_of,
    make_user,
    runtime_of,
    statuses,
    wait_for_owner,
)
from tests.support.workers import http_app as app_for
from tests.support.workers import http_environment as env_for
from tests.support.workers import wait_for_statuses as wait_until

pytestmark = pytest.mark.processes

WORKFLOW = "http_wait"
"""``tests/fixture_packs/workflows/http/http_wait.yml``: start, wait ``$input.seconds``, end."""


async def add_waiting(
    app: Litestar, user: dict[str, str], seconds: float, count: int = 1, workflow: str = WORKFLOW, **inputs: float
) -> list[str]:
    """Save ``count`` pending executions of the wait workflow, delivered to nobody yet."""
    return await add_held(app, user, workflow, {"seconds": seconds, **inputs}, count)


async def audit(app: Litestar, execution_ids: list[str], step: str = "pause") -> list[tuple[str, int, Any, Any]]:
    """Per execution: status, completed entries of ``step``, its timer's due and fired times."""
    store = runtime_of(app).store
    table = WorkflowTimer.__table__
    rows = []
    async with engine_of(app).connect() as connection:
        for execution_id in execution_ids:
            execution = await store.load(execution_id)
            assert execution is not None
            entries = await store.entries(execution_id)
            pauses = [e for e in entries if e.step_id == step and str(e.action) == "completed"]
            statement = select(table.c.due_at, table.c.fired_at).where(table.c.execution_id == uuid.UUID(execution_id))
            timers = (await connection.execute(statement)).all()
            assert len(timers) == 1, f"execution {execution_id}: {len(timers)} timers"
            rows.append((str(execution.status), len(pauses), timers[0][0], timers[0][1]))
    return rows


@dataclass
class Scene:
    """The app (to add executions and audit them) and the worker processes of a test on SAQ workers."""

    app: Litestar
    runtime: WorkflowRuntime
    engine: AsyncEngine
    env: dict[str, str]
    processes: Processes
    user: dict[str, str]

    def parts(self) -> tuple[Litestar, WorkflowRuntime, AsyncEngine, dict[str, str], Processes, dict[str, str]]:
        return self.app, self.runtime, self.engine, self.env, self.processes, self.user


@asynccontextmanager
async def saq_scene(url: str, fixture_packs: Path, folder: Path, **env: str) -> AsyncIterator[Scene]:
    """An app on PostgreSQL with SAQ and the environment of its workers; every process killed at the end."""
    app = app_for(url, queue="saq", queue_url=default_queue_url(url))
    runtime, engine = runtime_of(app), engine_of(app)
    assert isinstance(runtime.adapter, SAQAdapter)
    processes = Processes(folder)
    try:
        user = await make_user(app)
        await runtime.adapter.connect()
        yield Scene(app, runtime, engine, env_for(url, fixture_packs, PACKFLOW_QUEUE="saq", **env), processes, user)
    finally:
        processes.kill_all()
        await runtime.adapter.disconnect()
        await engine.dispose()


async def wait_survives_the_workers_death(url: str, fixture_packs: Path, folder: Path) -> None:
    async with saq_scene(url, fixture_packs, folder) as scene:
        app, runtime, engine, env, processes, user = scene.parts()
        first = processes.start("first", ["workflows", "worker", "--concurrency", "2"], env)
        await wait_for_owner(first, processes)
        [execution_id] = await add_waiting(app, user, 4)
        await runtime.adapter.enqueue(execution_id)
        await wait_until(engine, {"halted": 1}, within=30, logs=processes.logs)
        processes.sigkill(first)

        second = processes.start("second", ["workflows", "worker", "--concurrency", "2"], env)
        await wait_for_owner(second, processes)
        await wait_until(engine, {"completed": 1}, within=30, logs=processes.logs)
        [(status, pauses, due_at, fired_at)] = await audit(app, [execution_id])
        assert (status, pauses) == ("completed", 1)
        assert aware(fired_at) >= aware(due_at)
        execution = await runtime.store.load(execution_id)
        assert execution is not None
        assert execution.result == {"waited": 4}


@pytest.mark.postgres
def test_a_wait_survives_the_sigkill_of_the_worker_that_started_it(fixture_packs: Path, tmp_path: Path) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(wait_survives_the_workers_death(url, fixture_packs, tmp_path))


TOGETHER = 40


async def timers_due_together_fire_once(url: str, fixture_packs: Path, folder: Path) -> None:
    async with saq_scene(url, fixture_packs, folder) as scene:
        app, runtime, engine, env, processes, user = scene.parts()
        workers = [processes.start(f"worker-{n}", ["workflows", "worker", "--concurrency", "8"], env) for n in (1, 2)]
        for worker in workers:
            await wait_for_owner(worker, processes)
        # Both workers sweep and both take the SAQ jobs scheduled at the (same) due second.
        until = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=4)).replace(microsecond=0)
        runner_input = {"seconds": (until - datetime.datetime.now(datetime.UTC)).total_seconds()}
        execution_ids = await add_waiting(app, user, runner_input["seconds"], TOGETHER)
        for execution_id in execution_ids:
            await runtime.adapter.enqueue(execution_id)
        await wait_until(engine, {"completed": TOGETHER}, within=60, logs=processes.logs)
        rows = await audit(app, execution_ids)
        assert {(status, pauses) for status, pauses, _, _ in rows} == {("completed", 1)}
        assert all(fired is not None and aware(fired) >= aware(due) for _, _, due, fired in rows)
        assert all(worker.popen.poll() is None for worker in workers), processes.logs()


@pytest.mark.postgres
def test_timers_due_at_once_on_two_workers_each_fire_once(fixture_packs: Path, tmp_path: Path) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(timers_due_together_fire_once(url, fixture_packs, tmp_path))


NAPPING = 6
NAP = "http_wait_nap"
"""``tests/fixture_packs/workflows/http/http_wait_nap.yml``: start, wait ``$input.seconds``, call a nap of
``$input.nap`` seconds, end."""


async def held_by(engine: AsyncEngine, owner: str) -> list[tuple[str, str]]:
    """``(status, current_step)`` of the executions under way whose lease ``owner`` holds."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT status, current_step FROM workflow_executions "
                "WHERE lease_owner = :owner AND status IN ('pending', 'running') ORDER BY status"
            ),
            {"owner": owner},
        )
        return [(str(status), str(step)) for status, step in rows.all()]


async def woken_executions_survive_the_worker(url: str, fixture_packs: Path, folder: Path) -> None:
    async with saq_scene(url, fixture_packs, folder, PACKFLOW_REQUEUE_PENDING_SECONDS="1") as scene:
        app, runtime, engine, env, processes, user = scene.parts()
        # Concurrency 1: the sweep claims two woken executions at most (one to run, one ahead).
        first = processes.start("first", ["workflows", "worker", "--concurrency", "1"], env)
        owner = await wait_for_owner(first, processes)
        execution_ids = await add_waiting(app, user, 3, NAPPING, workflow=NAP, nap=4)
        for execution_id in execution_ids:
            await runtime.adapter.enqueue(execution_id)
        deadline = time.monotonic() + 60
        # The first worker fired timers and holds what they woke: one napping, one claimed and not started.
        while (held := await held_by(engine, owner)) != [("pending", "pause"), ("running", "nap")]:
            assert time.monotonic() < deadline, f"held by the first worker: {held}\n{processes.logs()}"
            await asyncio.sleep(0.05)
        processes.sigkill(first)

        second = processes.start("second", ["workflows", "worker", "--concurrency", "3"], env)
        await wait_for_owner(second, processes)
        await wait_until(engine, {"completed": NAPPING}, within=90, logs=processes.logs)
        for step in ("pause", "nap"):
            rows = await audit(app, execution_ids, step)
            assert {(status, completed) for status, completed, _, _ in rows} == {("completed", 1)}, step
        assert all(fired is not None for _, _, _, fired in rows)
        assert second.popen.poll() is None, processes.logs()


@pytest.mark.postgres
def test_executions_a_killed_worker_woke_and_held_are_finished_by_another(fixture_packs: Path, tmp_path: Path) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(woken_executions_survive_the_worker(url, fixture_packs, tmp_path))


async def timer_fires_after_downtime(url: str, fixture_packs: Path, folder: Path) -> None:
    app = app_for(url)
    engine = engine_of(app)
    env = env_for(url, fixture_packs, PACKFLOW_QUEUE="inline")
    processes = Processes(folder)
    try:
        user = await make_user(app)
        [execution_id] = await add_waiting(app, user, 2)
        first = processes.start("first", ["run", "--host", "127.0.0.1", "--port", str(free_port())], env)
        await wait_until(engine, {"halted": 1}, within=60, logs=processes.logs)
        processes.sigkill(first)
        await asyncio.sleep(3)  # every process is down when the timer comes due
        assert await statuses(engine) == {"halted": 1}

        second = processes.start("second", ["run", "--host", "127.0.0.1", "--port", str(free_port())], env)
        await wait_until(engine, {"completed": 1}, within=60, logs=processes.logs)
        [(status, pauses, due_at, fired_at)] = await audit(app, [execution_id])
        assert (status, pauses) == ("completed", 1)
        assert (aware(fired_at) - aware(due_at)).total_seconds() >= 1  # late, after the downtime
        assert second.popen.poll() is None
    finally:
        processes.kill_all()
        await engine.dispose()


def test_a_timer_due_while_the_inline_server_was_down_fires_when_it_starts(fixture_packs: Path, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    migrate(url)
    asyncio.run(timer_fires_after_downtime(url, fixture_packs, tmp_path))
