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
    python bench/worker_memory.py --worker-process --postgres URL [--executions N] [--every K]

Ends with ``RATIO worker_memory_middle_over_end <value> goal 0.9``.

``--worker-process`` measures a real queue worker instead: one ``litestar workflows worker`` process
(SAQ on PostgreSQL, concurrency 10) runs the 10-step workflow of ``bench/workflow_queue.py``, enqueued
``--every`` at a time through the app's workflow service; after each batch has completed the script reads
the worker's RSS from ``/proc`` (no tracemalloc in that process: what it shows is what the whole process
keeps, SAQ, the driver and the allocator included). The ratio: the worker's RSS at the middle mark over
its RSS at the end, ``RATIO worker_process_rss_middle_over_end <value> goal 0.97`` (what the issue
measured, 1 KiB more per execution, scores about 0.92 over 20000 executions from 100 MiB).
With ``--traced`` the worker runs under tracemalloc (one frame; this script starts it and then runs the
``litestar`` command in the same process): after each batch it is sent SIGUSR1, collects garbage and
writes its traced memory and a snapshot; the script prints the traced figures, the allocation sites of
the worker that grew most from the first mark to the last, and
``RATIO worker_process_traced_middle_over_end <value> goal 0.9`` (as the in-process ratio).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import runpy
import signal
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench_postgres import PostgresServer, plain_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.database import configure_engine, database_config, upgrade_database
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.db import bind_session, bind_session_factory
from packs.core.models import WorkflowDefinition, WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore

GOAL = 0.9
PROCESS_GOAL = 0.97
"""``RATIO worker_process_rss_middle_over_end``: a worker process's RSS at the middle mark over the end."""
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


def rss_mib(pid: int | str = "self") -> float:
    """The resident set size of process ``pid`` (default: this one) in MiB (from /proc, else this one's peak)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
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
            bind_session_factory=bind_session_factory,
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


TRACED_WORKER = "--traced-worker"


def traced_worker(folder: str, litestar_args: list[str]) -> None:
    """In the worker process: tracemalloc from now on, a SIGUSR1 handler writing ``traced-N`` (the traced
    bytes) and ``snapshot-N`` in ``folder``, then the ``litestar`` command with ``litestar_args``."""
    tracemalloc.start(1)
    marks = iter(range(1, 1_000_000))

    def mark(signum: int, frame: Any) -> None:
        number = next(marks)
        gc.collect()
        tracemalloc.take_snapshot().dump(f"{folder}/snapshot-{number}")
        Path(f"{folder}/traced-{number}").write_text(str(tracemalloc.get_traced_memory()[0]), encoding="utf-8")

    signal.signal(signal.SIGUSR1, mark)
    sys.argv = ["litestar", *litestar_args]
    runpy.run_module("litestar", run_name="__main__", alter_sys=True)


async def traced_mark(pid: int, folder: Path, number: int) -> int:
    """Ask the traced worker for mark ``number``; its traced bytes once written."""
    os.kill(pid, signal.SIGUSR1)
    written = folder / f"traced-{number}"
    deadline = time.monotonic() + 120
    while not written.exists() or not written.read_text(encoding="utf-8"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the traced worker wrote no mark {number} within 120s")
        await asyncio.sleep(0.1)
    return int(written.read_text(encoding="utf-8"))


def traced_workers(side: Any, folder: Path) -> Any:
    """One worker process like ``side.workers(1)``, run by this script under tracemalloc."""
    from workflow_queue import Workers

    command = [sys.executable, str(Path(__file__).resolve()), TRACED_WORKER, str(folder)]
    command += ["workflows", "worker", "--concurrency", str(side.args.concurrency)]
    return Workers([(command, side.env)], lambda line: "workflow worker" in line and line.rstrip().endswith(" ready"))


async def run_worker_process(admin_url: str, executions: int, every: int, traced: bool) -> float:
    """Run a ``litestar workflows worker`` process over ``executions``; print its RSS (and with ``traced`` its
    traced memory) per batch; the ratio."""
    import asyncpg  # type: ignore[import-untyped]
    from workflow_queue import OurSide, pack_folder

    server = PostgresServer(admin_url)
    marks: list[tuple[int, float]] = []
    traced_marks: list[tuple[int, int]] = []
    try:
        url = await server.create("packflow_bench_memory_worker")
        with tempfile.TemporaryDirectory() as folder:
            pack_folder(Path(folder))
            sys.path.append(folder)  # the bench pack, for the app that enqueues (the worker gets it by PYTHONPATH)
            side = OurSide(url, Path(folder), argparse.Namespace(concurrency=10, worker_env=[], profile_dir=None))
            await side.open()
            snapshots = Path(folder) / "snapshots"
            snapshots.mkdir()
            workers = traced_workers(side, snapshots) if traced else side.workers(1)
            connection = await asyncpg.connect(plain_url(url))
            try:
                workers.start()
                pid = workers.processes[0].pid
                print(f"     0 executions: worker RSS {rss_mib(pid):7.1f} MiB (ready)", flush=True)
                began, done = time.perf_counter(), 0
                while done < executions:
                    ids = await side.enqueue(min(every, executions - done), enqueuers=4)
                    while (progress := await side.progress(connection, ids))[0] < len(ids):
                        if progress[1]:
                            raise RuntimeError(f"{progress[1]} executions failed or were cancelled")
                        workers.check()
                        await asyncio.sleep(0.2)
                    done += len(ids)
                    marks.append((done, rss_mib(pid)))
                    rate = done / (time.perf_counter() - began)
                    shown = f"worker RSS {marks[-1][1]:7.1f} MiB"
                    if traced:
                        traced_marks.append((done, await traced_mark(pid, snapshots, len(traced_marks) + 1)))
                        shown += f", traced {traced_marks[-1][1] / 2**20:7.2f} MiB"
                    print(f"{done:>6} executions: {shown} ({rate:.0f} executions/s)", flush=True)
                await side.check_output(connection, ids)
            finally:
                workers.stop()
                await connection.close()
                await side.close()
            if traced:
                first = tracemalloc.Snapshot.load(str(snapshots / "snapshot-1"))
                last = tracemalloc.Snapshot.load(str(snapshots / f"snapshot-{len(traced_marks)}"))
                print(f"the worker's allocation sites that grew most from {traced_marks[0][0]} to {done} executions:")
                for stat in last.compare_to(first, "lineno")[:15]:
                    print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback[0]}")
    finally:
        await server.drop_all()
    if traced:
        return ratio(traced_marks)
    (start, at_start), (end, at_end) = marks[0], marks[-1]
    middle, at_middle = min(marks, key=lambda mark: abs(mark[0] - (start + end) / 2))
    first = (at_middle - at_start) * 2**20 / max(middle - start, 1)
    second = (at_end - at_middle) * 2**20 / max(end - middle, 1)
    print(f"worker RSS growth per execution: first half {first:+.1f} B, second half {second:+.1f} B")
    return at_middle / at_end


async def main() -> None:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=8_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--postgres", default=None, help="an admin URL: run on a fresh PostgreSQL database")
    parser.add_argument("--worker-process", action="store_true", help="measure a SAQ worker process (--postgres)")
    parser.add_argument("--traced", action="store_true", help="with --worker-process: tracemalloc in the worker")
    args = parser.parse_args()
    if args.worker_process:
        if not args.postgres:
            parser.error("--worker-process runs SAQ on PostgreSQL: give --postgres URL")
        value = await run_worker_process(args.postgres, args.executions, args.every, args.traced)
        print(f"total wall time {time.perf_counter() - began:.1f}s")
        if args.traced:
            print(f"RATIO worker_process_traced_middle_over_end {value:.3f} goal {GOAL}")
        else:
            print(f"RATIO worker_process_rss_middle_over_end {value:.3f} goal {PROCESS_GOAL}")
        return
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
    if len(sys.argv) > 2 and sys.argv[1] == TRACED_WORKER:
        traced_worker(sys.argv[2], sys.argv[3:])
    else:
        asyncio.run(main())
