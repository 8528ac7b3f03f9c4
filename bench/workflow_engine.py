"""Durable steps per second of the workflow engine, against the driver floor and against DBOS Transact.

The workflow has 20 steps: ``start``, nine pairs of ``assign`` / ``call`` (the call awaits a trivial
async service that returns a small dict and writes nothing), then ``end``. It runs on the SQL store
(``SQLStore`` on ``workflow_executions`` / ``workflow_entries``, the app's session setup: a step's
session is made only when its code asks for one) over a
temporary SQLite file and over a fresh PostgreSQL database created here and dropped at the end.

1. **Engine vs floor** (per database): the engine runs executions one after another; the floor
   writes, through the driver itself (aiosqlite / asyncpg) on the same database, the same number of
   one-transaction checkpoints as the engine executed steps: each an ``UPDATE`` of one
   ``workflow_executions`` row (ctx, current step, updated_at) plus an ``INSERT`` of one
   ``workflow_entries`` row, committed. The floor's execution rows are inserted before its clock
   starts. (The engine writes more per step than the floor: one extra commit per execution for the
   initial checkpoint and two entries per step, ``completed`` and the next ``started``.)
2. **Engine vs DBOS Transact** (PostgreSQL; DBOS gets its own fresh database on the same server):
   a 20-step DBOS workflow (20 ``@DBOS.step()`` functions returning the same small dict), sequential
   and 16 concurrent, in both idiomatic styles (async workflows awaited from asyncio tasks; sync
   workflows from threads); the ratio uses the faster DBOS style. The engine runs the same
   sequential count, and 16 asyncio tasks each running executions one after another.
   DBOS is not a project dependency: ``.venv/bin/pip install dbos`` (measured with 3.4.0) first;
   without it the script says so and prints only the floor ratios.

Every side is warmed up first; rounds alternate the sides (in reversed order every other round).
Steps/s = steps executed / wall time. The engine-vs-floor ratio is the best round of each side (what
else runs on the shared machine only slows a round down; the medians are printed beside it), with the
CPU time per step of the whole process (both sides' driver threads included) for each; the DBOS
figures are medians over the rounds.

    python bench/workflow_engine.py [--executions N] [--rounds R] [--floor-rounds R] [--warmup N]
                                    [--concurrency C] [--per-task K]
                                    [--postgres URL | --no-postgres] [--no-dbos]
    python bench/workflow_engine.py --profile N   # cProfile of N sequential engine runs on PostgreSQL

Prints the figures and ends with ``RATIO <name> <value> goal <goal>`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
from bench_postgres import PostgresServer, plain_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.database import configure_engine, database_config, upgrade_database
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.db import bind_session, bind_session_factory
from packs.core.models import WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore

FLOOR_GOAL = 0.8
DBOS_GOAL = 3.0
PAIRS = 9
STEPS = 2 + 2 * PAIRS  # start, (assign, call) x 9, end
POOL_SIZE = 20  # DBOS's default system-database pool size; the engine gets the same


# -- the workflow ------------------------------------------------------------------------------


def workflow_document() -> dict[str, Any]:
    """``start``, then ``assign`` / ``call`` pairs, then ``end``: :data:`STEPS` steps."""
    steps: list[dict[str, Any]] = [{"id": "start", "type": "start"}]
    for index in range(1, PAIRS + 1):
        steps.append({"id": f"a{index}", "type": "assign", "set": {f"v{index}": "$input.n"}})
        steps.append(
            {
                "id": f"c{index}",
                "type": "call",
                "service": "echo",
                "input": {"value": f"$v{index}", "i": index},
                "output": f"r{index}",
            }
        )
    steps.append({"id": "done", "type": "end", "result": {"last": f"$r{PAIRS}"}})
    for current, following in itertools.pairwise(steps):
        current["next"] = following["id"]
    assert len(steps) == STEPS
    return {"id": "bench_steps", "name": "Bench steps", "steps": steps}


async def echo(value: Any, i: int) -> dict[str, Any]:
    """The trivial service: a small dict, no I/O."""
    return {"ok": True, "value": value, "i": i}


RESOLVER = {"echo": echo}.get


def floor_payloads() -> list[tuple[str, str, str, str]]:
    """Per step: (step id, step type, ctx JSON after the step, output JSON) as the engine writes them."""
    ctx: dict[str, Any] = {"input": {"n": 1}}
    payloads = [("start", "start", json.dumps(ctx), json.dumps({"n": 1}))]
    for index in range(1, PAIRS + 1):
        ctx[f"v{index}"] = 1
        payloads.append((f"a{index}", "assign", json.dumps(ctx), json.dumps({f"v{index}": 1})))
        output = {"ok": True, "value": 1, "i": index}
        ctx[f"r{index}"] = output
        payloads.append((f"c{index}", "call", json.dumps(ctx), json.dumps(output)))
    payloads.append(("done", "end", json.dumps(ctx), json.dumps({"last": ctx[f"r{PAIRS}"]})))
    assert len(payloads) == STEPS
    return payloads


# -- the engine side -----------------------------------------------------------------------------


def make_engine(url: str) -> AsyncEngine:
    """An engine configured as the app's (advanced-alchemy's JSON codecs, ``configure_engine``), pool of 20."""
    template = database_config(Settings(database_url=url, auto_migrate=False)).engine_config
    options: dict[str, Any] = {
        "json_serializer": template.json_serializer,
        "json_deserializer": template.json_deserializer,
    }
    if url.startswith("postgresql"):
        options.update(pool_size=POOL_SIZE, max_overflow=0)
    return configure_engine(create_async_engine(url, **options))


class EngineSide:
    """Our engine on the SQL store of one database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.store = SQLStore(
            async_sessionmaker(engine, expire_on_commit=False),
            WorkflowExecution,
            WorkflowEntry,
            bind_session=bind_session,
            bind_session_factory=bind_session_factory,  # as the app does: a session only for a step that asks
        )
        self.definition = wf.load(workflow_document())

    async def one(self, n: int) -> None:
        result = await wf.Engine(self.definition, store=self.store, service_resolver=RESOLVER).run(input={"n": n})
        if result.status != "completed" or result.output != {"last": {"ok": True, "value": n, "i": PAIRS}}:
            raise RuntimeError(f"engine run ended {result.status}: {result.error or result.output}")

    async def sequential(self, executions: int) -> float:
        """Steps/s of ``executions`` runs one after another."""
        start = time.perf_counter()
        for index in range(executions):
            await self.one(index)
        return executions * STEPS / (time.perf_counter() - start)

    async def concurrent(self, tasks: int, per_task: int) -> float:
        """Steps/s of ``tasks`` asyncio tasks, each running ``per_task`` executions one after another."""

        async def worker(offset: int) -> None:
            for index in range(per_task):
                await self.one(offset + index)

        start = time.perf_counter()
        await asyncio.gather(*(worker(task * per_task) for task in range(tasks)))
        return tasks * per_task * STEPS / (time.perf_counter() - start)


# -- the floor: checkpoints through the driver -------------------------------------------------------

PAYLOADS = floor_payloads()
FLOOR_WORKFLOW = "bench_floor"


class SqliteFloor:
    """Checkpoints through aiosqlite on the same file, with the app's pragmas."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.db: aiosqlite.Connection | None = None

    async def open(self) -> None:
        self.db = await aiosqlite.connect(self.path)
        for pragma in ("foreign_keys=ON", "busy_timeout=5000", "journal_mode=WAL", "synchronous=NORMAL"):
            await self.db.execute(f"PRAGMA {pragma}")

    async def close(self) -> None:
        if self.db is not None:
            await self.db.close()

    @staticmethod
    def _now() -> str:
        return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    async def sequential(self, executions: int) -> float:
        db = self.db
        assert db is not None
        ids = [uuid.uuid4().bytes for _ in range(executions)]
        now = self._now()
        await db.executemany(
            "INSERT INTO workflow_executions (id, workflow_id, status, input, ctx, current_step, created_at,"
            " updated_at) VALUES (?, ?, 'running', '{\"n\": 1}', '{}', 'start', ?, ?)",
            [(key, FLOOR_WORKFLOW, now, now) for key in ids],
        )
        await db.commit()
        start = time.perf_counter()
        for key in ids:
            for step_id, step_type, ctx, output in PAYLOADS:
                now = self._now()
                await db.execute(
                    "UPDATE workflow_executions SET ctx = ?, current_step = ?, updated_at = ? WHERE id = ?",
                    (ctx, step_id, now, key),
                )
                await db.execute(
                    "INSERT INTO workflow_entries (id, execution_id, step_id, step_type, action, duration_ms, output,"
                    " timestamp) VALUES (?, ?, ?, ?, 'completed', 0, ?, ?)",
                    (uuid.uuid4().bytes, key, step_id, step_type, output, now),
                )
                await db.commit()
        return executions * STEPS / (time.perf_counter() - start)


class PostgresFloor:
    """Checkpoints through asyncpg (one connection, prepared statements) on the same database."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.connection: asyncpg.Connection | None = None

    async def open(self) -> None:
        self.connection = await asyncpg.connect(self.dsn)

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def sequential(self, executions: int) -> float:
        connection = self.connection
        assert connection is not None
        ids = [uuid.uuid4() for _ in range(executions)]
        now = datetime.datetime.now(datetime.UTC)
        await connection.executemany(
            "INSERT INTO workflow_executions (id, workflow_id, status, input, ctx, current_step, created_at,"
            " updated_at) VALUES ($1, $2, 'running', '{\"n\": 1}', '{}', 'start', $3, $3)",
            [(key, FLOOR_WORKFLOW, now) for key in ids],
        )
        update = "UPDATE workflow_executions SET ctx = $1, current_step = $2, updated_at = $3 WHERE id = $4"
        insert = (
            "INSERT INTO workflow_entries (id, execution_id, step_id, step_type, action, duration_ms, output,"
            " timestamp) VALUES ($1, $2, $3, $4, 'completed', 0, $5, $6)"
        )
        start = time.perf_counter()
        for key in ids:
            for step_id, step_type, ctx, output in PAYLOADS:
                now = datetime.datetime.now(datetime.UTC)
                async with connection.transaction():
                    await connection.execute(update, ctx, step_id, now, key)
                    await connection.execute(insert, uuid.uuid4(), key, step_id, step_type, output, now)
        return executions * STEPS / (time.perf_counter() - start)


# -- DBOS ----------------------------------------------------------------------------------------


class DbosSide:
    """DBOS Transact on its own database: the same 20 trivial steps, async and sync workflows."""

    def __init__(self, system_database_url: str, concurrency: int) -> None:
        from dbos import DBOS  # optional: only the DBOS part needs it

        @DBOS.step()
        async def async_step(i: int, value: Any) -> dict[str, Any]:
            return {"ok": True, "value": value, "i": i}

        @DBOS.workflow()
        async def async_workflow(n: int) -> Any:
            output = None
            for index in range(1, STEPS + 1):
                output = await async_step(index, n)
            return output

        @DBOS.step()
        def sync_step(i: int, value: Any) -> dict[str, Any]:
            return {"ok": True, "value": value, "i": i}

        @DBOS.workflow()
        def sync_workflow(n: int) -> Any:
            output = None
            for index in range(1, STEPS + 1):
                output = sync_step(index, n)
            return output

        self.dbos_class = DBOS
        self.async_workflow = async_workflow
        self.sync_workflow = sync_workflow
        self.concurrency = concurrency
        self.threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-dbos-")
        DBOS(config={"name": "packflow_bench", "system_database_url": system_database_url, "log_level": "WARNING"})
        DBOS.launch()

    def close(self) -> None:
        self.threads.shutdown()
        self.dbos_class.destroy(destroy_registry=True)

    @staticmethod
    def _check(output: Any, n: int) -> None:
        if output != {"ok": True, "value": n, "i": STEPS}:
            raise RuntimeError(f"DBOS workflow returned {output!r}")

    async def async_sequential(self, executions: int) -> float:
        start = time.perf_counter()
        for index in range(executions):
            self._check(await self.async_workflow(index), index)
        return executions * STEPS / (time.perf_counter() - start)

    async def async_concurrent(self, tasks: int, per_task: int) -> float:
        async def worker(offset: int) -> None:
            for index in range(per_task):
                self._check(await self.async_workflow(offset + index), offset + index)

        start = time.perf_counter()
        await asyncio.gather(*(worker(task * per_task) for task in range(tasks)))
        return tasks * per_task * STEPS / (time.perf_counter() - start)

    def _sync_worker(self, offset: int, count: int) -> None:
        for index in range(offset, offset + count):
            self._check(self.sync_workflow(index), index)

    async def sync_sequential(self, executions: int) -> float:
        """Sync workflows one after another, in one thread (the event loop stays idle meanwhile)."""
        start = time.perf_counter()
        await asyncio.wrap_future(self.threads.submit(self._sync_worker, 0, executions))
        return executions * STEPS / (time.perf_counter() - start)

    async def sync_concurrent(self, tasks: int, per_task: int) -> float:
        """Sync workflows from ``tasks`` threads, each running ``per_task`` one after another."""
        assert tasks <= self.concurrency
        start = time.perf_counter()
        futures = [self.threads.submit(self._sync_worker, task * per_task, per_task) for task in range(tasks)]
        await asyncio.gather(*(asyncio.wrap_future(future) for future in futures))
        return tasks * per_task * STEPS / (time.perf_counter() - start)


# -- rounds --------------------------------------------------------------------------------------

Measure = Callable[[], Awaitable[float]]


async def samples(measures: dict[str, Measure], count: int) -> dict[str, list[tuple[float, float]]]:
    """Steps/s and process CPU seconds of each measure's ``count`` rounds, the order reversed every other round."""
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in measures}
    names = list(measures)
    for index in range(count):
        for name in names if index % 2 == 0 else reversed(names):
            cpu = time.process_time()
            rate = await measures[name]()
            results[name].append((rate, time.process_time() - cpu))
    return results


async def rounds(measures: dict[str, Measure], count: int) -> dict[str, float]:
    """Median steps/s of each measure over ``count`` rounds, the order reversed every other round."""
    found = await samples(measures, count)
    return {name: statistics.median(rate for rate, _ in values) for name, values in found.items()}


async def engine_vs_floor(
    label: str, url: str, floor: SqliteFloor | PostgresFloor, args: argparse.Namespace
) -> tuple[str, float]:
    engine = make_engine(url)
    try:
        await upgrade_database(engine)
        side = EngineSide(engine)
        await floor.open()
        try:
            await side.sequential(args.warmup)
            await floor.sequential(args.warmup)
            found = await samples(
                {
                    "engine": lambda: side.sequential(args.executions),
                    "floor": lambda: floor.sequential(args.executions),
                },
                args.floor_rounds,
            )
        finally:
            await floor.close()
    finally:
        await engine.dispose()
    steps = args.executions * STEPS
    best = {name: max(rate for rate, _ in values) for name, values in found.items()}
    medians = {name: statistics.median(rate for rate, _ in values) for name, values in found.items()}
    cpu = {name: min(seconds for _, seconds in values) / steps * 1e6 for name, values in found.items()}
    ratio = best["engine"] / best["floor"]
    print(
        f"{label:10} sequential  engine {best['engine']:8.0f} steps/s (median {medians['engine']:6.0f}, "
        f"CPU {cpu['engine']:5.0f} us/step)   floor ({'aiosqlite' if label == 'sqlite' else 'asyncpg'} checkpoints) "
        f"{best['floor']:8.0f} steps/s (median {medians['floor']:6.0f}, CPU {cpu['floor']:5.0f} us/step)   "
        f"engine/floor {ratio:.3f} (medians {medians['engine'] / medians['floor']:.3f}, "
        f"CPU {cpu['floor'] / cpu['engine']:.3f})",
        flush=True,
    )
    return f"engine_vs_floor_{label}", ratio


async def engine_vs_dbos(url: str, dbos_url: str, args: argparse.Namespace) -> list[tuple[str, float]]:
    import dbos

    version = getattr(dbos, "__version__", None)
    if version is None:
        from importlib.metadata import version as package_version

        version = package_version("dbos")
    engine = make_engine(url)
    dbos_side: DbosSide | None = None
    try:
        side = EngineSide(engine)
        dbos_side = DbosSide(dbos_url, args.concurrency)
        tasks, per_task = args.concurrency, args.per_task
        await side.sequential(args.warmup)
        await side.concurrent(tasks, 1)
        await dbos_side.async_sequential(args.warmup)
        await dbos_side.async_concurrent(tasks, 1)
        await dbos_side.sync_sequential(args.warmup)
        await dbos_side.sync_concurrent(tasks, 1)
        medians = await rounds(
            {
                "engine_seq": lambda: side.sequential(args.executions),
                "dbos_async_seq": lambda: dbos_side.async_sequential(args.executions),
                "dbos_sync_seq": lambda: dbos_side.sync_sequential(args.executions),
                "engine_conc": lambda: side.concurrent(tasks, per_task),
                "dbos_async_conc": lambda: dbos_side.async_concurrent(tasks, per_task),
                "dbos_sync_conc": lambda: dbos_side.sync_concurrent(tasks, per_task),
            },
            args.rounds,
        )
    finally:
        if dbos_side is not None:
            dbos_side.close()
        await engine.dispose()
    dbos_seq = max(medians["dbos_async_seq"], medians["dbos_sync_seq"])
    dbos_conc = max(medians["dbos_async_conc"], medians["dbos_sync_conc"])
    print(f"DBOS Transact {version} on PostgreSQL ({STEPS} steps per workflow):")
    print(
        f"  sequential      engine {medians['engine_seq']:8.0f} steps/s   DBOS async {medians['dbos_async_seq']:8.0f}"
        f"   DBOS sync {medians['dbos_sync_seq']:8.0f}   engine/best DBOS {medians['engine_seq'] / dbos_seq:.3f}"
    )
    print(
        f"  concurrent {tasks:<4} engine {medians['engine_conc']:8.0f} steps/s   "
        f"DBOS async {medians['dbos_async_conc']:8.0f}   DBOS sync {medians['dbos_sync_conc']:8.0f}   "
        f"engine/best DBOS {medians['engine_conc'] / dbos_conc:.3f}",
        flush=True,
    )
    return [
        ("engine_vs_dbos_sequential", medians["engine_seq"] / dbos_seq),
        (f"engine_vs_dbos_concurrent{tasks}", medians["engine_conc"] / dbos_conc),
    ]


# -- databases -----------------------------------------------------------------------------------


async def profile(args: argparse.Namespace) -> None:
    """cProfile of ``args.profile`` sequential engine runs on PostgreSQL (after a warm-up)."""
    import cProfile
    import pstats

    server = PostgresServer(args.postgres)
    try:
        url = await server.create("packflow_bench_profile")
        engine = make_engine(url)
        try:
            await upgrade_database(engine)
            side = EngineSide(engine)
            await side.sequential(args.warmup)
            profiler = cProfile.Profile()
            profiler.enable()
            rate = await side.sequential(args.profile)
            profiler.disable()
        finally:
            await engine.dispose()
    finally:
        await server.drop_all()
    print(f"profiled {args.profile} executions ({args.profile * STEPS} steps): {rate:.0f} steps/s under the profiler")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.profile_lines)
    stats.sort_stats("cumulative").print_stats(args.profile_lines)


async def main() -> None:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=30, help="sequential executions per round and side")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the DBOS comparison")
    parser.add_argument("--floor-rounds", type=int, default=9, help="rounds of the engine-vs-floor comparisons")
    parser.add_argument("--warmup", type=int, default=5, help="sequential executions per side before measuring")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent tasks (engine) / workflows (DBOS)")
    parser.add_argument("--per-task", type=int, default=5, help="executions per concurrent task per round")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-dbos", action="store_true")
    parser.add_argument("--profile", type=int, default=0, help="only profile N sequential engine runs (PostgreSQL)")
    parser.add_argument("--profile-lines", type=int, default=30)
    args = parser.parse_args()
    if args.profile:
        await profile(args)
        return

    print(
        f"{STEPS}-step workflow; {args.executions} sequential executions per round and side "
        f"({args.floor_rounds} rounds vs the floor, {args.rounds} vs DBOS); "
        f"concurrent: {args.concurrency} tasks x {args.per_task} executions per round",
        flush=True,
    )
    ratios: list[tuple[str, float]] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/bench.db"
        ratios.append(await engine_vs_floor("sqlite", f"sqlite+aiosqlite:///{path}", SqliteFloor(path), args))

    if not args.no_postgres:
        server = PostgresServer(args.postgres)
        try:
            url = await server.create("packflow_bench")
        except Exception as error:  # no server: report and stop at SQLite
            print(f"PostgreSQL not reachable at {args.postgres}: {error}; measuring SQLite only", file=sys.stderr)
            await server.admin.dispose()
        else:
            try:
                ratios.append(await engine_vs_floor("postgresql", url, PostgresFloor(plain_url(url)), args))
                reason = None
                if args.no_dbos:
                    reason = "--no-dbos"
                else:
                    try:
                        import dbos  # noqa: F401
                    except ImportError as error:
                        reason = f"dbos is not installed ({error}); pip install dbos"
                if reason is None:
                    dbos_url = plain_url(await server.create("packflow_bench_dbos"))
                    try:
                        ratios += await engine_vs_dbos(url, dbos_url, args)
                    except Exception as error:  # DBOS could not be set up or failed: report, skip its ratios
                        reason = f"DBOS failed: {type(error).__name__}: {error}"
                if reason is not None:
                    print(f"skipping the DBOS comparison: {reason}")
                    skipped += ["engine_vs_dbos_sequential", f"engine_vs_dbos_concurrent{args.concurrency}"]
            finally:
                await server.drop_all()

    elapsed = time.perf_counter() - began
    print(f"total wall time {elapsed:.1f}s (budget 300s){'  OVER BUDGET' if elapsed > 300 else ''}")
    if skipped:
        print(f"ratios skipped: {', '.join(skipped)}")
    for name, value in ratios:
        goal = FLOOR_GOAL if name.startswith("engine_vs_floor") else DBOS_GOAL
        print(f"RATIO {name} {value:.3f} goal {goal}")


if __name__ == "__main__":
    asyncio.run(main())
