"""Sub-workflows that wait, with real processes (docs/workflow-language.md, Sub-workflows that wait).

- PostgreSQL, SAQ workers: a worker runs a parent into its child's ``wait`` and is SIGKILLed; another
  worker, started after, wakes the child on its timer, and the child's end resumes the parent, once.
- SQLite, the inline queue: the server is SIGKILLed during the child's wait and stays down past the due
  time; the next server fires the timer, the child completes and the parent with it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from litestar import Litestar

from app.queue import SAQAdapter
from app.settings import default_queue_url
from packs.core import workflow as wf
from tests.app.test_timer_processes import app_for, env_for, wait_until
from tests.support.databases import migrate, postgres_database, sqlite_url
from tests.support.processes import free_port
from tests.support.workers import HeldAdapter, Processes, engine_of, make_user, runtime_of, statuses

pytestmark = pytest.mark.processes

WORKFLOW = "http_sub_wait"
"""``tests/fixture_packs/workflows/http/http_sub_wait.yml``: a ``workflow`` step running ``http_wait``."""


async def add_parent(app: Litestar, seconds: float) -> str:
    """Save a pending execution of the parent workflow, delivered to nobody yet."""
    runtime = runtime_of(app)
    user = await make_user(app)
    runner = wf.AsyncRunner(
        runtime.workflows[WORKFLOW].definition, runtime.store, HeldAdapter(), catalog=runtime.catalog
    )
    return await runner.run({"seconds": seconds}, workspace_id=user["workspace_id"], created_by_id=user["user_id"])


async def check_completed_once(app: Litestar, parent_id: str, seconds: float) -> None:
    store = runtime_of(app).store
    parent = await store.load(parent_id)
    assert parent is not None
    assert parent.result == {"child": {"waited": seconds}}
    steps = [str(e.action) for e in await store.entries(parent_id) if e.step_id == "child"]
    assert steps == ["started", "halted", "started", "completed"]


async def child_wait_survives_the_workers_death(url: str, fixture_packs: Path, folder: Path) -> None:
    app = app_for(url, queue="saq", queue_url=default_queue_url(url))
    runtime, engine = runtime_of(app), engine_of(app)
    assert isinstance(runtime.adapter, SAQAdapter)
    env = env_for(url, fixture_packs, PACKFLOW_QUEUE="saq")
    processes = Processes(folder)
    try:
        await runtime.adapter.connect()
        first = processes.start("first", ["workflows", "worker", "--concurrency", "2"], env)
        parent_id = await add_parent(app, 4)
        await runtime.adapter.enqueue(parent_id)
        await wait_until(engine, {"halted": 2}, within=60, logs=processes.logs)  # the parent and its child
        processes.sigkill(first)

        processes.start("second", ["workflows", "worker", "--concurrency", "2"], env)
        await wait_until(engine, {"completed": 2}, within=60, logs=processes.logs)
        await check_completed_once(app, parent_id, 4)
    finally:
        processes.kill_all()
        await runtime.adapter.disconnect()
        await engine.dispose()


@pytest.mark.postgres
def test_a_wait_in_a_sub_workflow_survives_the_workers_death_and_completes_the_parent(
    fixture_packs: Path, tmp_path: Path
) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(child_wait_survives_the_workers_death(url, fixture_packs, tmp_path))


async def child_wait_fires_after_downtime(url: str, fixture_packs: Path, folder: Path) -> None:
    app = app_for(url)
    engine = engine_of(app)
    env = env_for(url, fixture_packs, PACKFLOW_QUEUE="inline")
    processes = Processes(folder)
    try:
        parent_id = await add_parent(app, 2)
        first = processes.start("first", ["run", "--host", "127.0.0.1", "--port", str(free_port())], env)
        await wait_until(engine, {"halted": 2}, within=60, logs=processes.logs)
        processes.sigkill(first)
        await asyncio.sleep(3)  # every process is down when the child's timer comes due
        assert await statuses(engine) == {"halted": 2}

        second = processes.start("second", ["run", "--host", "127.0.0.1", "--port", str(free_port())], env)
        await wait_until(engine, {"completed": 2}, within=60, logs=processes.logs)
        await check_completed_once(app, parent_id, 2)
        assert second.popen.poll() is None
    finally:
        processes.kill_all()
        await engine.dispose()


def test_a_wait_in_a_sub_workflow_due_while_the_inline_server_was_down_completes_the_parent(
    fixture_packs: Path, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path)
    migrate(url)
    asyncio.run(child_wait_fires_after_downtime(url, fixture_packs, tmp_path))
