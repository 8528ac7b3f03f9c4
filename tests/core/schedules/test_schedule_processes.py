"""Schedules on real processes (docs/http-api.md, Schedules): SAQ worker processes on PostgreSQL, and
``litestar run`` servers with the inline queue on SQLite, restarted.

- A schedule every 2 s with ``overlap: skip`` and a workflow that sleeps 3 s starts no run while the
  previous one is unfinished: each run is created after the previous one completed.
- Every process down across (at least) three ticks, then one up again: ``catch_up: latest`` runs one
  of the missed ticks (the last), ``catch_up: all`` runs each of them, in one firing.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import select

from app import create_app
from app.plugin import PackflowPlugin
from app.settings import Settings, default_queue_url
from packs.core.identity.accounts import create_user
from packs.core.models import WorkflowExecution, WorkflowSchedule
from packs.core.schedules.calendar import Calendar
from packs.core.schedules.policy import run_id
from packs.core.schedules.service import ScheduleService
from tests.support.databases import migrate, postgres_database, sqlite_url
from tests.support.processes import REPO, environment, free_port
from tests.support.workers import QUEUE_SETTINGS, Process, Processes

pytestmark = pytest.mark.processes  # every test here starts real processes (tests/test_markers.py)

PACK = "pftest_workflow_http"
EVERY = 2
WORKER = ["workflows", "worker", "--concurrency", "4"]


def app_for(database_url: str, **overrides: Any) -> Litestar:
    """The app in the test process (not served): to create the user and the schedules and read the runs."""
    return create_app(Settings(database_url=database_url, packs=(PACK,), auto_migrate=False, **overrides))


def env_for(database_url: str, fixture_packs: Path, **extra: str) -> dict[str, str]:
    return environment(
        database_url,
        PACKFLOW_PACKS=PACK,
        PYTHONPATH=os.pathsep.join([str(fixture_packs), str(REPO)]),
        PACKFLOW_TIMER_RESOLUTION_SECONDS="0.2",
        **{**QUEUE_SETTINGS, **extra},
    )


class Scene:
    """The app of the test process, its user, and what it reads of schedules and their runs."""

    def __init__(self, app: Litestar) -> None:
        self.app = app
        self.plugin = app.plugins.get(PackflowPlugin)
        self.service: ScheduleService = self.plugin.workflows.schedules
        self.user: Any = None

    async def start(self) -> None:
        async with self.plugin.db.create_session_maker()() as session:
            self.user = await create_user(session, "ada@example.com", "Acme")
            await session.commit()

    async def schedule(self, workflow: str, **body: Any) -> str:
        view = await self.service.create(
            workflow, body, workspace_id=str(self.user.workspace_id), user_id=str(self.user.user_id)
        )
        return str(view.schedule.id)

    async def runs(self, schedule_id: str) -> list[Any]:
        """The schedule's runs (id, status, created_at, updated_at), oldest first."""
        table = WorkflowExecution
        statement = (
            select(table.id, table.status, table.created_at, table.updated_at)
            .where(table.schedule_id == uuid.UUID(schedule_id))
            .order_by(table.created_at)
        )
        async with self.plugin.db.get_engine().connect() as connection:
            return list((await connection.execute(statement)).all())

    async def last_tick(self, schedule_id: str) -> datetime.datetime:
        async with self.plugin.db.create_session_maker()() as session:
            row = await session.get(WorkflowSchedule, uuid.UUID(schedule_id))
            assert row is not None
            assert row.last_tick_at is not None
            return row.last_tick_at

    async def wait_until(self, what: str, check: Callable[[], Any], within: float, logs: Callable[[], str]) -> Any:
        deadline = time.monotonic() + within
        while True:
            found = await check()
            if found:
                return found
            assert time.monotonic() < deadline, f"{what}: not within {within:g}s\n{logs()}"
            await asyncio.sleep(0.2)

    async def close(self) -> None:
        adapter = self.plugin.workflows.adapter
        disconnect = getattr(adapter, "disconnect", None)
        if disconnect is not None:
            await disconnect()
        await self.plugin.db.get_engine().dispose()


async def no_overlap_with_skip(scene: Scene, start: Callable[[str], Process], processes: Processes) -> None:
    schedule = await scene.schedule("http_slow", every=EVERY, overlap="skip", input={"seconds": 3})
    start("runner")

    async def three_completed() -> bool:
        runs = await scene.runs(schedule)
        return sum(run.status == "completed" for run in runs) >= 3

    await scene.wait_until("three runs completed", three_completed, 90, processes.logs)
    runs = [run for run in await scene.runs(schedule) if run.status == "completed"]
    for earlier, later in itertools.pairwise(runs):
        # skip: a tick while a run is unfinished starts nothing, so a run starts after the previous ended.
        assert later.created_at >= earlier.updated_at, (earlier, later)
    unfinished = [run for run in await scene.runs(schedule) if run.status != "completed"]
    assert len(unfinished) <= 1, unfinished
    await scene.service.change(schedule, str(scene.user.workspace_id), {"paused": True})


async def catch_up_after_downtime(
    scene: Scene, start: Callable[[str], Process], stop: Callable[[Process], None], processes: Processes
) -> None:
    latest = await scene.schedule("http_echo", every=EVERY, catch_up="latest", overlap="allow_all")
    every_one = await scene.schedule("http_echo", every=EVERY, catch_up="all", overlap="allow_all")
    first = start("before")

    async def both_ran() -> bool:
        return all([await scene.runs(latest), await scene.runs(every_one)])

    await scene.wait_until("the schedules ran before the downtime", both_ran, 90, processes.logs)
    stop(first)
    down_since = {key: await scene.last_tick(key) for key in (latest, every_one)}
    before = {key: {run.id for run in await scene.runs(key)} for key in (latest, every_one)}
    # Down across three ticks at least (more when the restart is slow).
    await asyncio.sleep(3 * EVERY + 0.5)
    start("after")

    async def caught_up() -> bool:
        return all([{run.id for run in await scene.runs(key)} - before[key] for key in (latest, every_one)])

    await scene.wait_until("the schedules caught up", caught_up, 90, processes.logs)
    calendar = Calendar(every=EVERY)
    for key, policy in ((latest, "latest"), (every_one, "all")):
        runs = [run for run in await scene.runs(key) if run.id not in before[key]]
        horizon = max(run.created_at for run in runs) + datetime.timedelta(minutes=1)
        tick_of = {run_id(key, tick): tick for tick in calendar.between(down_since[key], horizon, 1000)}
        ran = sorted(tick_of[str(run.id)] for run in runs)
        due = calendar.between(down_since[key], ran[-1], 1000)
        if policy == "latest":
            # The first run after the restart is the last missed tick: the ticks before it never ran.
            skipped = calendar.between(down_since[key], ran[0], 1000)[:-1]
            assert len(skipped) >= 2, (policy, down_since[key], ran)
        else:
            # Every tick since the downtime began ran, the missed ones included, in order.
            assert ran == due, (policy, due, ran)
            assert len(ran) >= 3, (policy, ran)


@pytest.mark.postgres
def test_saq_workers_on_postgresql_overlap_skip_and_catch_up(fixture_packs: Path, tmp_path: Path) -> None:
    with postgres_database() as url:
        migrate(url)
        asyncio.run(_on_saq(url, fixture_packs, tmp_path))


async def _on_saq(url: str, fixture_packs: Path, folder: Path) -> None:
    scene = Scene(app_for(url, queue="saq", queue_url=default_queue_url(url)))
    env = env_for(url, fixture_packs, PACKFLOW_QUEUE="saq")
    processes = Processes(folder)
    try:
        await scene.start()
        await scene.plugin.workflows.adapter.connect()  # type: ignore[attr-defined]  # SAQ's tables, once
        workers: list[Process] = []

        def start(name: str) -> Process:
            # Two workers: both fire timers; a tick still starts one run.
            for index in range(2):
                workers.append(processes.start(f"{name}-{index}", WORKER, env))
            return workers[-1]

        def stop(_: Process) -> None:
            for worker in workers:
                if worker.popen.poll() is None:
                    processes.sigkill(worker)
            workers.clear()

        await no_overlap_with_skip(scene, start, processes)
        stop(workers[0])
        await catch_up_after_downtime(scene, start, stop, processes)
    finally:
        processes.kill_all()
        await scene.close()


def test_inline_queue_on_sqlite_with_app_restarts(fixture_packs: Path, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    migrate(url)
    asyncio.run(_on_inline(url, fixture_packs, tmp_path))


async def _on_inline(url: str, fixture_packs: Path, folder: Path) -> None:
    scene = Scene(app_for(url))
    env = env_for(url, fixture_packs)
    processes = Processes(folder)
    try:
        await scene.start()
        servers: list[Process] = []

        def start(name: str) -> Process:
            server = processes.start(name, ["run", "--host", "127.0.0.1", "--port", str(free_port())], env)
            servers.append(server)
            return server

        def stop(server: Process) -> None:
            processes.sigkill(server)  # every process down, without a goodbye

        await no_overlap_with_skip(scene, start, processes)
        stop(servers[-1])
        await catch_up_after_downtime(scene, start, stop, processes)
    finally:
        processes.kill_all()
        await scene.close()
