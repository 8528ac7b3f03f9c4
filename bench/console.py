"""The console's pages against the JSON API answering the same data, in the same run (README, "The operations
console"), through the ASGI app on a fresh database (SQLite by default, ``--database`` for PostgreSQL).

- the executions list: ``GET /console/executions`` (50 rows, counts by status) vs
  ``GET /api/v1/workflows/executions?cursor=&per_page=50``, over ``--executions`` executions;
- an execution's page: ``GET /console/executions/{id}`` (graph, timeline) vs
  ``GET /api/v1/workflows/executions/{id}``, for an execution of ``--steps`` recorded entries.

Each figure is the best of ``--requests`` requests, alternating page and API (what else runs on the machine
only adds to a sample), in wall-clock time and in the process's CPU time (the ASGI app, its SQLite thread
included, runs in this process; on PostgreSQL the server's CPU is not in it).

    python bench/console.py [--database URL] [--executions N] [--steps N] [--requests N]

Ends with ``RATIO console_list_vs_api <api time / page time> goal 0.5`` and
``RATIO console_detail_vs_api <api time / page time> goal 0.5``. ``--million`` measures the list at a million
executions on PostgreSQL instead (``--database`` is then the server's admin URL; bench/console_scale.py).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import re
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from app import create_app
from app.database import upgrade_database
from app.plugin import PackflowPlugin
from app.settings import Settings
from packs.core.identity.accounts import create_user
from packs.core.testing import started
from packs.core.workflow import Entry, Execution

GOAL = 0.5


async def migrate(url: str) -> None:
    engine = create_async_engine(url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()


async def fill(plugin: PackflowPlugin, workspace_id: str, executions: int, steps: int) -> str:
    """``executions`` completed executions of ``create_contact`` and one with ``steps`` entries; its id."""
    store = plugin.workflows.store
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for index in range(executions):
        moment = base + datetime.timedelta(seconds=index)
        await store.add(
            Execution(
                id=str(uuid.uuid4()),
                workflow_id="create_contact",
                status="completed",
                workspace_id=workspace_id,
                created_at=moment,
                updated_at=moment + datetime.timedelta(seconds=1),
            )
        )
    big = Execution(id=str(uuid.uuid4()), workflow_id="create_contact", status="running", workspace_id=workspace_id)
    await store.add(big)
    entries = []
    for index in range(steps // 2):
        for action in ("started", "completed"):
            entries.append(
                Entry(
                    execution_id=big.id,
                    step_id="create_contact",
                    step_type="call",
                    action=action,
                    duration_ms=3 if action == "completed" else None,
                    input={"index": index} if action == "started" else None,
                    output={"id": index} if action == "completed" else None,
                )
            )
    big.status = "completed"
    await store.checkpoint(big, entries)
    return big.id


async def sample(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], times: list[float], cpu: list[float]
) -> None:
    """One request: its wall-clock and CPU time appended to ``times`` and ``cpu``."""
    began, began_cpu = time.perf_counter(), time.process_time()
    answer = await client.get(url, headers=headers)
    times.append(time.perf_counter() - began)
    cpu.append(time.process_time() - began_cpu)
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:300])


async def run(database: str | None, executions: int, steps: int, requests: int) -> None:
    folder = Path(tempfile.mkdtemp())
    url = database or f"sqlite+aiosqlite:///{folder / 'console-bench.db'}"
    await migrate(url)
    app = create_app(Settings(database_url=url, auto_migrate=False))
    plugin = app.plugins.get(PackflowPlugin)
    async with plugin.db.create_session_maker()() as session:
        issued = await create_user(session, f"bench-{uuid.uuid4().hex[:8]}@example.com", "Bench")
        await session.commit()
    filled = time.perf_counter()
    big = await fill(plugin, str(issued.workspace_id), executions, steps)
    print(f"data: {executions} executions and one of {steps} entries in {time.perf_counter() - filled:.1f} s")
    api_headers = {"Authorization": f"Bearer {issued.token}"}
    transport = httpx.ASGITransport(app=app)
    async with started(app), httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        form = await client.get("/console/sign-in")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        signed = await client.post("/console/sign-in", data={"token": issued.token, "csrf_token": csrf.group(1)})
        assert signed.status_code == 303, signed.text
        cases = {
            "list": ("/console/executions", "/api/v1/workflows/executions?cursor=&per_page=50"),
            "detail": (f"/console/executions/{big}", f"/api/v1/workflows/executions/{big}"),
        }
        results = {}
        for name, (page_url, api_url) in cases.items():
            pages: list[float] = []
            apis: list[float] = []
            page_cpu: list[float] = []
            api_cpu: list[float] = []
            for _ in range(2):  # warm up
                await sample(client, page_url, {}, [], [])
                await sample(client, api_url, api_headers, [], [])
            for _ in range(requests):
                await sample(client, page_url, {}, pages, page_cpu)
                await sample(client, api_url, api_headers, apis, api_cpu)
            page_ms, api_ms = min(pages) * 1000, min(apis) * 1000
            results[name] = (page_ms, api_ms)
            print(
                f"{name}: console page {page_ms:.1f} ms, JSON API {api_ms:.1f} ms (best of {requests}); CPU "
                f"{min(page_cpu) * 1000:.1f} ms vs {min(api_cpu) * 1000:.1f} ms, "
                f"ratio {min(api_cpu) / min(page_cpu):.2f}"
            )
    await plugin.db.get_engine().dispose()
    for name, (page_ms, api_ms) in results.items():
        print(f"RATIO console_{name}_vs_api {api_ms / page_ms:.2f} goal {GOAL}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=None, help="a database URL (default: a new SQLite file)")
    parser.add_argument("--executions", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument(
        "--million", action="store_true", help="the list at 1M executions on PostgreSQL (bench/console_scale.py)"
    )
    args = parser.parse_args()
    if args.million:
        from console_scale import run_scale

        asyncio.run(run_scale(args.database, args.requests))
        return
    asyncio.run(run(args.database, args.executions, args.steps, args.requests))


if __name__ == "__main__":
    main()
