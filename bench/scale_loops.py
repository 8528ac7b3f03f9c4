"""Time per ``loop`` iteration as the loop grows: K = 100 vs K = 5000 items, on PostgreSQL and SQLite.

The workflow: ``start``, an ``assign`` putting the K items in ctx (as a workflow that loads its data
first does), a foreach ``loop`` over them whose body is one ``call`` of a trivial async service (it
writes nothing), then ``end``. It runs on the SQL store (the app's session setup) over a temporary
SQLite file and a fresh PostgreSQL database created here and dropped at the end. Time per iteration
= (median wall time of a run with K items - that of a run with no items) / K; beside it the same
figure in this process's CPU time, which other processes on a shared machine barely move (it leaves
out the database server's work). Where the engine has the loop key ``checkpoint_every``, the loop
runs with its default (a commit once 0.25 s passed since the last one: none inside a 100-item loop)
and with ``checkpoint_every: 100`` (none inside a 100-item loop either, 49 inside a 5000-item one:
that ratio includes the cost of those commits, not only what grows with K).

The process collects garbage as the app's and the workers' do (``app/collector.py``,
``PACKFLOW_GC_TUNING``): with CPython's defaults, full collections walking the 5000 items and results
alive made an iteration 10-45% slower at K = 5000 than at K = 100.

    python bench/scale_loops.py [--rounds R] [--postgres URL | --no-postgres]

Prints the figures and ends with ``RATIO loop_iteration_100_over_5000 <value> goal 0.8`` lines
(time per iteration at K = 100 divided by that at K = 5000: 1.0 is flat, higher is better).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_postgres import PostgresServer
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app import collector
from app.database import configure_engine, database_config, upgrade_database
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.db import bind_session, bind_session_factory
from packs.core.models import WorkflowEntry, WorkflowExecution
from packs.core.workflow.steps.configs import LoopConfig
from packs.core.workflow.stores.sql import SQLStore

GOAL = 0.8
SMALL, LARGE = 100, 5000
HAS_CHECKPOINT_EVERY = "checkpoint_every" in LoopConfig.__struct_fields__


async def nothing(item: int) -> dict[str, int]:
    return {"item": item}


def document(checkpoint_every: int | None) -> dict[str, Any]:
    loop: dict[str, Any] = {
        "id": "each",
        "type": "loop",
        "over": "$items",
        "max": LARGE,
        "do": [{"id": "work", "type": "call", "service": "svc", "input": {"item": "$item"}}],
        "output": "results",
        "next": "done",
    }
    if checkpoint_every is not None:
        loop["checkpoint_every"] = checkpoint_every
    return {
        "id": f"scale_loop_{checkpoint_every}",
        "name": "Scale loop",
        "steps": [
            {"id": "start", "type": "start", "next": "load"},
            {"id": "load", "type": "assign", "set": {"items": "$input.items"}, "next": "each"},
            loop,
            {"id": "done", "type": "end", "result": {"done": True}},
        ],
    }


def make_engine(url: str) -> AsyncEngine:
    template = database_config(Settings(database_url=url, auto_migrate=False)).engine_config
    return configure_engine(
        create_async_engine(url, json_serializer=template.json_serializer, json_deserializer=template.json_deserializer)
    )


async def per_iteration(url: str, checkpoint_every: int | None, rounds: int) -> dict[int, tuple[float, float]]:
    """Microseconds per iteration at K = SMALL and LARGE (medians over ``rounds``): wall time, CPU time."""
    engine = make_engine(url)
    try:
        await upgrade_database(engine)
        store = SQLStore(
            async_sessionmaker(engine, expire_on_commit=False),
            WorkflowExecution,
            WorkflowEntry,
            bind_session=bind_session,
            bind_session_factory=bind_session_factory,
        )
        runner = wf.Engine(wf.load(document(checkpoint_every)), store=store, service_resolver={"svc": nothing}.get)

        cpu: dict[int, list[float]] = {0: [], SMALL: [], LARGE: []}

        async def timed(count: int) -> float:
            start, start_cpu = time.perf_counter(), time.process_time()
            result = await runner.run({"items": list(range(count))})
            elapsed = time.perf_counter() - start
            cpu[count].append(time.process_time() - start_cpu)
            assert result.status == wf.Status.COMPLETED, result.error
            return elapsed

        await timed(SMALL)  # warm-up
        cpu[SMALL].clear()
        times: dict[int, list[float]] = {0: [], SMALL: [], LARGE: []}
        for _ in range(rounds):
            for count in (0, SMALL, LARGE):
                times[count].append(await timed(count))
            for _ in range(4):  # the small cases are short: more samples
                times[0].append(await timed(0))
                times[SMALL].append(await timed(SMALL))
        base, base_cpu = statistics.median(times[0]), statistics.median(cpu[0])
        return {
            count: (
                (statistics.median(times[count]) - base) / count * 1e6,
                (statistics.median(cpu[count]) - base_cpu) / count * 1e6,
            )
            for count in (SMALL, LARGE)
        }
    finally:
        await engine.dispose()


async def measure(postgres_url: str | None = None, rounds: int = 3) -> list[tuple[str, float, float]]:
    """``(name, ratio, goal)`` per database and checkpoint setting; prints the figures."""
    settings: list[int | None] = [None, 100] if HAS_CHECKPOINT_EVERY else [None]
    ratios: list[tuple[str, float, float]] = []
    targets: list[tuple[str, str]] = []
    server = PostgresServer(postgres_url) if postgres_url else None
    with collector.settled(), tempfile.TemporaryDirectory() as folder:  # collected as the app's processes do
        targets.append(("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'scale_loops.db'}"))
        try:
            if server is not None:
                targets.append(("postgresql", await server.create("bench_scale_loops")))
            for label, url in targets:
                for every in settings:
                    figures = await per_iteration(url, every, rounds)
                    (small, small_cpu), (large, large_cpu) = figures[SMALL], figures[LARGE]
                    ratio = small / large
                    name = "default" if every is None else f"checkpoint_every_{every}"
                    print(
                        f"{label:10} {name:22} per iteration: K={SMALL} {small:7.1f} us   "
                        f"K={LARGE} {large:7.1f} us   ratio {ratio:.2f}   "
                        f"(CPU: {small_cpu:7.1f} us, {large_cpu:7.1f} us, ratio {small_cpu / large_cpu:.2f})",
                        flush=True,
                    )
                    suffix = "" if every is None else f"_every_{every}"
                    ratios.append((f"loop_iteration_100_over_5000_{label}{suffix}", ratio, GOAL))
        finally:
            if server is not None:
                await server.drop_all()
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    ratios = asyncio.run(measure(None if args.no_postgres else args.postgres, args.rounds))
    postgres = [value for name, value, _ in ratios if "postgresql" in name and "every" not in name]
    for name, value, goal in ratios:
        print(f"RATIO {name} {value:.2f} goal {goal}")
    if postgres:  # the line: PostgreSQL, the loop's default setting
        print(f"RATIO loop_iteration_100_over_5000 {postgres[0]:.2f} goal {GOAL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
