"""Worker memory over a long run: does it level off?

One in-process worker runs N executions one after another, as a queue worker does (default 8000,
which fits five minutes with tracemalloc on a loaded machine; ``--executions 20000`` for the long run):
each is added ``pending`` (``store.add``), then ``Worker.process`` claims it, runs the engine under a
lease (a ``LeaseKeeper`` task renewing it, checkpoints fenced) and releases it. The workflow is small
(``start``, ``assign``, a ``call`` of an async service, ``end``), on the SQL store over a temporary
SQLite file (or PostgreSQL with ``--postgres URL``). tracemalloc (one frame) runs throughout; every
``--every`` executions the script collects garbage and prints RSS and traced memory; at the end it
prints the allocation sites that grew most since the first mark.

The ratio: traced memory at the middle of the run over traced memory at the end, each plus a
floor of 1 MiB (tracemalloc starts just before the loop, so what it traces is what the loop keeps).
Memory that levels off scores about 1.0; a leak of 1 KiB per execution (what the issue measured in
a worker process) scores about 0.5 over 20000 executions (0.55 over 8000), and 16 bytes per
execution about 0.9 (0.95 over 8000); the goal is 0.9.

    python bench/worker_memory.py [--executions N] [--every K] [--postgres URL]

Ends with ``RATIO worker_memory_middle_over_end <value> goal 0.9``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import tempfile
import time
import tracemalloc
from typing import Any

from bench_postgres import PostgresServer
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.database import configure_engine, database_config, upgrade_database
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.db import bind_session
from packs.core.models import WorkflowDefinition, WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore

GOAL = 0.9
FLOOR_BYTES = 2**20
DOCUMENT: dict[str, Any] = {
    "id": "small",
    "name": "Small",
    "steps": [
        {"id": "start", "type": "start", "next": "set"},
        {"id": "set", "type": "assign", "set": {"n": "$input.n"}, "next": "echo"},
        {"id": "echo", "type": "call", "service": "echo", "input": {"value": "$n"}, "output": "echoed", "next": "end"},
        {"id": "end", "type": "end", "result": "$echoed"},
    ],
}


async def echo(value: Any) -> dict[str, Any]:
    return {"value": value}


def rss_mib() -> float:
    """The current resident set size in MiB (from /proc, else the peak)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_engine(url: str) -> AsyncEngine:
    template = database_config(Settings(database_url=url, auto_migrate=False)).engine_config
    return configure_engine(
        create_async_engine(url, json_serializer=template.json_serializer, json_deserializer=template.json_deserializer)
    )


async def run(url: str, executions: int, every: int) -> float:
    """Run the worker loop on ``url``; print the marks and the top growth; answer the ratio."""
    sql_engine = make_engine(url)
    try:
        await upgrade_database(sql_engine)
        store = SQLStore(
            async_sessionmaker(sql_engine, expire_on_commit=False),
            WorkflowExecution,
            WorkflowEntry,
            bind_session=bind_session,
            definition_class=WorkflowDefinition,
        )
        definition = wf.load(DOCUMENT)
        catalog = wf.DefinitionCatalog(store)
        catalog.add(definition)
        worker = wf.Worker(store, catalog, service_resolver=lambda name: echo if name == "echo" else None)
        maker = wf.Engine(definition, store=store)
        tracemalloc.start(1)
        marks: list[tuple[int, int]] = []
        first: tracemalloc.Snapshot | None = None
        began = time.perf_counter()
        for n in range(1, executions + 1):
            execution = maker.new_execution({"n": n}, status=wf.Status.PENDING)
            await store.add(execution)
            result = await worker.process(execution.id)
            if result is None or result.status != "completed":
                raise RuntimeError(f"execution {n} ended {result and result.status}: {result and result.error}")
            if n % every == 0:
                gc.collect()
                traced = tracemalloc.get_traced_memory()[0]
                marks.append((n, traced))
                if first is None:
                    first = tracemalloc.take_snapshot()
                rate = n / (time.perf_counter() - began)
                print(
                    f"{n:>6} executions: RSS {rss_mib():7.1f} MiB, traced {traced / 2**20:7.2f} MiB "
                    f"({rate:.0f} executions/s)",
                    flush=True,
                )
        last = tracemalloc.take_snapshot()
        tracemalloc.stop()
        assert first is not None
        print(f"allocation sites that grew most from {marks[0][0]} to {marks[-1][0]} executions:")
        for stat in last.compare_to(first, "lineno")[:12]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback[0]}")
        return ratio(marks)
    finally:
        await sql_engine.dispose()


def ratio(marks: list[tuple[int, int]]) -> float:
    """Traced memory at the middle mark over the last, each plus :data:`FLOOR_BYTES`."""
    (start, at_start), (end, at_end) = marks[0], marks[-1]
    middle, at_middle = min(marks, key=lambda mark: abs(mark[0] - (start + end) / 2))
    first = (at_middle - at_start) / max(middle - start, 1)
    second = (at_end - at_middle) / max(end - middle, 1)
    print(f"traced growth per execution: first half {first:+.1f} B, second half {second:+.1f} B")
    return (at_middle + FLOOR_BYTES) / (at_end + FLOOR_BYTES)


async def main() -> None:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=8_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--postgres", default=None, help="an admin URL: run on a fresh PostgreSQL database")
    args = parser.parse_args()
    if args.postgres:
        server = PostgresServer(args.postgres)
        try:
            value = await run(await server.create("packflow_bench_memory"), args.executions, args.every)
        finally:
            await server.drop_all()
    else:
        with tempfile.TemporaryDirectory() as folder:
            value = await run(f"sqlite+aiosqlite:///{folder}/memory.db", args.executions, args.every)
    print(f"total wall time {time.perf_counter() - began:.1f}s (budget 300s)")
    print(f"RATIO worker_memory_middle_over_end {value:.3f} goal {GOAL}")


if __name__ == "__main__":
    asyncio.run(main())
