"""What a step costs as the context grows: a 1 KB vs a 900 KB ctx, and a ctx gaining one variable per step.

The process collects garbage as the app's and the workers' do (``app/collector.py``).

1. **Ctx size**: ``start``, an ``assign`` putting a string of 1 KB or 900 KB in ctx (``blob``, a literal
   of pseudo-random hex in the definition, so that the execution's input, which ``start`` keeps in ctx,
   stays empty, and compression cannot shrink it), then N
   ``call`` steps each setting one small key (``tick``, the step's id, which the no-op service ``tick``
   returns), then ``end``. Time per step and (PostgreSQL) WAL bytes per step, read with
   ``pg_current_wal_lsn()`` around each run.
2. **Growing ctx**: ``start``, then N ``call`` steps each adding a new variable (``v<i>``), then ``end``;
   time per step at N = 10 vs N = 1000 (a sample of the short one is the mean of ``FEW_REPEAT`` runs).

The steps are calls, not assigns: a run of assigns is instant and committed once (docs/workflow-language.md,
section 5), while each call is a checkpoint of its own, which is what this measures.

Per-step cost is the **marginal** cost: runs of N and of 2N steps (same workflow shape), the difference of
their least times (and WAL) divided by N, so the one-time costs (the execution's insert, the write of the
big value, the end) are not counted; the least of the samples, since whatever else runs on the machine
(or writes on the PostgreSQL server, whose WAL position is shared) only adds to a sample. The rounds
alternate the cases. It runs on the SQL store (the app's
session setup) over a temporary SQLite file and a fresh PostgreSQL database created here and dropped at
the end.

    python bench/scale_ctx.py [--rounds R] [--postgres URL | --no-postgres]

Ends with ``RATIO step_time_ctx_1k_over_900k``, ``RATIO wal_per_step_ctx_1k_over_900k`` (PostgreSQL)
and ``RATIO step_time_10_over_1000_growing`` lines (the small case's cost per step divided by the large
case's: 1.0 is flat, higher is better); the SQLite figures carry a ``_sqlite`` suffix.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_postgres import PostgresServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app import collector
from app.database import configure_engine, database_config, upgrade_database
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.db import bind_session, bind_session_factory
from packs.core.models import WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore

try:  # the change log's table, where the store has one
    from packs.core.models import WorkflowCtxChange  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the store before change logs
    WorkflowCtxChange = None

CTX_GOAL, WAL_GOAL, GROWING_GOAL = 0.5, 0.5, 0.8
TICKS = 50
SMALL_BLOB, LARGE_BLOB = 1_000, 900_000
FEW, MANY = 10, 1000
FEW_REPEAT = 26
"""Runs of the short growing workflow per sample (its time is their mean): 26 runs of 10 and of 20 steps hold
about three of the SQLite writer's WAL checkpoints (one every ``CHECKPOINT_EVERY`` = 128 commits,
packs/core/workflow/stores/sql/sqlite.py), as the runs of 1000 and 2000 steps hold eight and sixteen; a
single short run mostly holds none, and the least of such samples left that per-commit cost out of the
small case only."""


def chained(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``steps``, each going on to the one after it."""
    for step, following in itertools.pairwise(steps):
        step["next"] = following["id"]
    return steps


def incompressible(size: int) -> str:
    """``size`` characters of pseudo-random hex (PostgreSQL's TOAST compression cannot shrink it)."""
    return random.Random(size).randbytes(size // 2 + 1).hex()[:size]


def call(step_id: str, output: str) -> dict[str, Any]:
    """A step setting ``output`` to the step's id, through the no-op service ``tick``."""
    return {
        "id": step_id,
        "type": "call",
        "service": "tick",
        "input": {"value": "$execution.step_id"},
        "output": output,
    }


async def tick(value: str) -> str:
    """The bench's service: answers its input."""
    return value


def ticking(steps: int, blob: int) -> dict[str, Any]:
    """``start``, ``load`` (a string of ``blob`` bytes, in the definition), ``steps`` calls setting one small key,
    ``end``."""
    body = [call(f"t{index}", "tick") for index in range(steps)]
    return {
        "id": f"scale_ctx_ticks_{steps}_{blob}",
        "name": "Scale ctx",
        "steps": chained(
            [
                {"id": "start", "type": "start"},
                {"id": "load", "type": "assign", "set": {"blob": incompressible(blob)}},
                *body,
                {"id": "done", "type": "end", "result": {"done": True}},
            ]
        ),
    }


def growing(steps: int, _: int = 0) -> dict[str, Any]:
    """``start``, ``steps`` calls each setting a new variable, ``end``."""
    body = [call(f"g{index}", f"v{index}") for index in range(steps)]
    return {
        "id": f"scale_ctx_growing_{steps}",
        "name": "Scale ctx growing",
        "steps": chained(
            [{"id": "start", "type": "start"}, *body, {"id": "done", "type": "end", "result": {"done": True}}]
        ),
    }


def make_engine(url: str) -> AsyncEngine:
    template = database_config(Settings(database_url=url, auto_migrate=False)).engine_config
    return configure_engine(
        create_async_engine(url, json_serializer=template.json_serializer, json_deserializer=template.json_deserializer)
    )


def make_store(engine: AsyncEngine) -> SQLStore:
    extra: dict[str, Any] = {} if WorkflowCtxChange is None else {"change_class": WorkflowCtxChange}
    return SQLStore(
        async_sessionmaker(engine, expire_on_commit=False),
        WorkflowExecution,
        WorkflowEntry,
        bind_session=bind_session,
        bind_session_factory=bind_session_factory,
        **extra,
    )


class Runner:
    """Runs the bench's workflows on one database, timing each run (and its WAL on PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.store = make_store(engine)
        self.postgres = engine.dialect.name == "postgresql"
        self.engines: dict[str, wf.Engine] = {}

    async def wal(self) -> int:
        async with self.engine.connect() as connection:
            value = (await connection.execute(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))).scalar_one()
        return int(value)

    async def run(self, document: dict[str, Any]) -> tuple[float, int]:
        """Seconds and WAL bytes (0 on SQLite) of one execution of ``document``."""
        runner = self.engines.get(document["id"])
        if runner is None:
            runner = self.engines[document["id"]] = wf.Engine(
                wf.load(document), store=self.store, service_resolver={"tick": tick}.get
            )
        before = await self.wal() if self.postgres else 0
        start = time.perf_counter()
        result = await runner.run({})
        elapsed = time.perf_counter() - start
        after = await self.wal() if self.postgres else 0
        assert result.status == wf.Status.COMPLETED, result.error
        return elapsed, after - before


class Samples:
    """Times and WAL bytes of the runs of one workflow shape at N and at 2N steps."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.runs: dict[int, list[tuple[float, int]]] = {count: [], 2 * count: []}

    async def take(self, runner: Runner, shape: Any, blob: int, samples: int, repeat: int = 1) -> None:
        """``samples`` samples at N and at 2N steps, alternating; each the mean of ``repeat`` runs."""
        for _ in range(samples):
            for steps in (self.count, 2 * self.count):
                runs = [await runner.run(shape(steps, blob)) for _ in range(repeat)]
                self.runs[steps].append((sum(t for t, _ in runs) / repeat, sum(w for _, w in runs) // repeat))

    def per_step(self) -> tuple[float, float]:
        """Marginal seconds and WAL bytes per step: (least at 2N - least at N) / N."""
        short, long = self.runs[self.count], self.runs[2 * self.count]
        time_per_step = (min(t for t, _ in long) - min(t for t, _ in short)) / self.count
        wal_per_step = (min(w for _, w in long) - min(w for _, w in short)) / self.count
        return time_per_step, wal_per_step


async def curves(url: str, rounds: int) -> dict[str, float]:
    """Seconds and WAL bytes per step for the 1 KB / 900 KB ctx, seconds per step growing 10 / 1000."""
    engine = make_engine(url)
    try:
        await upgrade_database(engine)
        runner = Runner(engine)
        await Samples(TICKS).take(runner, ticking, LARGE_BLOB, 1)  # warm-up
        await Samples(FEW).take(runner, growing, 0, 2)
        sized = {size: Samples(TICKS) for size in (SMALL_BLOB, LARGE_BLOB)}
        few, many = Samples(FEW), Samples(MANY)
        for round_ in range(rounds):
            order = (SMALL_BLOB, LARGE_BLOB) if round_ % 2 == 0 else (LARGE_BLOB, SMALL_BLOB)
            for size in order:
                await sized[size].take(runner, ticking, size, 4)
            await few.take(runner, growing, 0, 3, repeat=FEW_REPEAT)
            await many.take(runner, growing, 0, 3)
        found: dict[str, float] = {}
        for size, samples in sized.items():
            found[f"time_{size}"], found[f"wal_{size}"] = samples.per_step()
        found["time_few"], found["time_many"] = few.per_step()[0], many.per_step()[0]
        return found
    finally:
        await engine.dispose()


def ratios_of(label: str, figures: dict[str, float], postgres: bool) -> list[tuple[str, float, float]]:
    suffix = "" if postgres else f"_{label}"
    ratios = [
        (
            f"step_time_ctx_1k_over_900k{suffix}",
            figures[f"time_{SMALL_BLOB}"] / figures[f"time_{LARGE_BLOB}"],
            CTX_GOAL,
        ),
        (f"step_time_10_over_1000_growing{suffix}", figures["time_few"] / figures["time_many"], GROWING_GOAL),
    ]
    if postgres:
        wal_large = max(figures[f"wal_{LARGE_BLOB}"], 1.0)
        ratios.insert(1, ("wal_per_step_ctx_1k_over_900k", figures[f"wal_{SMALL_BLOB}"] / wal_large, WAL_GOAL))
    return ratios


async def measure(postgres_url: str | None = None, rounds: int = 3) -> list[tuple[str, float, float]]:
    """``(name, ratio, goal)`` per database; prints the figures."""
    ratios: list[tuple[str, float, float]] = []
    server = PostgresServer(postgres_url) if postgres_url else None
    with collector.settled(), tempfile.TemporaryDirectory() as folder:  # collected as the app's processes do
        targets = [("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'scale_ctx.db'}")]
        try:
            if server is not None:
                targets.append(("postgresql", await server.create("bench_scale_ctx")))
            for label, url in targets:
                figures = await curves(url, rounds)
                postgres = label == "postgresql"
                small_wal, large_wal = figures[f"wal_{SMALL_BLOB}"], figures[f"wal_{LARGE_BLOB}"]
                wal = f"   WAL/step 1 KB {small_wal:8.0f} B  900 KB {large_wal:8.0f} B" if postgres else ""
                print(
                    f"{label:10} per step: ctx 1 KB {figures[f'time_{SMALL_BLOB}'] * 1e6:7.0f} us  "
                    f"900 KB {figures[f'time_{LARGE_BLOB}'] * 1e6:7.0f} us{wal}   growing N={FEW} "
                    f"{figures['time_few'] * 1e6:7.0f} us  N={MANY} {figures['time_many'] * 1e6:7.0f} us",
                    flush=True,
                )
                ratios.extend(ratios_of(label, figures, postgres))
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
    for name, value, goal in asyncio.run(measure(None if args.no_postgres else args.postgres, args.rounds)):
        print(f"RATIO {name} {value:.3f} goal {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
