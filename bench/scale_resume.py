"""Resume time as the recorded entries grow: an execution with 10 entries vs one with 10000.

The process collects garbage as the app's and the workers' do (``app/collector.py``).

The workflow halts, and each resume runs one ``assign`` and halts again (``wait`` resumes at
``again``, whose ``next`` is ``wait``), so one execution can be resumed over and over; it never reads
``$history``. Two executions are made per database, then given 10 and 10000 entries in one
checkpoint each (as if earlier steps had recorded them). The clock times ``Engine.resume`` alone:
load, checkpoint, one step, the halt's checkpoint. Rounds alternate the two executions; the figure is
the median over rounds of the mean time per resume. It runs on the SQL store (the app's models and
session setup) over a temporary SQLite file and over a fresh PostgreSQL database created here and
dropped at the end.

    python bench/scale_resume.py [--resumes N] [--rounds R] [--postgres URL | --no-postgres]

Prints the figures and ends with ``RATIO resume_10_over_10000_entries <t10 / t10000> goal 0.5`` (the
PostgreSQL figure; SQLite's is ``resume_10_over_10000_entries_sqlite``): 1.0 is flat, higher is better.
:func:`measure` answers the same ratios for ``bench/scale.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from typing import Any

from bench_postgres import PostgresServer
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app import collector
from app.database import configure_engine, database_config, upgrade_database
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.db import bind_session
from packs.core.models import WorkflowEntry, WorkflowExecution
from packs.core.workflow.stores.sql import SQLStore

GOAL = 0.5
SIZES = (10, 10_000)
DOCUMENT: dict[str, Any] = {
    "id": "resumed_often",
    "name": "Resumed often",
    "steps": [
        {"id": "start", "type": "start", "next": "wait"},
        {"id": "wait", "type": "halt", "reason": "again?", "resume_step": "again"},
        {"id": "again", "type": "assign", "set": {"last": "$response"}, "next": "wait"},
    ],
}


def make_engine(url: str) -> AsyncEngine:
    """An engine configured as the app's (advanced-alchemy's JSON codecs, ``configure_engine``)."""
    template = database_config(Settings(database_url=url, auto_migrate=False)).engine_config
    return configure_engine(
        create_async_engine(url, json_serializer=template.json_serializer, json_deserializer=template.json_deserializer)
    )


async def with_entries(engine: wf.Engine, store: SQLStore, count: int) -> str:
    """A halted execution of :data:`DOCUMENT` with ``count`` entries recorded."""
    halted = await engine.run()
    execution = await store.load(halted.execution_id)
    assert execution is not None
    assert execution.status == "halted"
    have = len(await store.entries(execution.id))
    filler = [
        wf.Entry(execution_id=execution.id, step_id=f"earlier{n}", step_type="assign", action="completed")
        for n in range(count - have)
    ]
    for start in range(0, len(filler), 2000):
        await store.checkpoint(execution, filler[start : start + 2000])
    return halted.execution_id


async def measure_database(name: str, url: str, resumes: int, rounds: int) -> float:
    """Print the per-resume times of one database; answer t(10) / t(10000)."""
    sql_engine = make_engine(url)
    try:
        await upgrade_database(sql_engine)
        store = SQLStore(
            async_sessionmaker(sql_engine, expire_on_commit=False), WorkflowExecution, WorkflowEntry, bind_session
        )
        engine = wf.Engine(wf.load(DOCUMENT), store=store)
        ids = {size: await with_entries(engine, store, size) for size in SIZES}
        for execution_id in ids.values():  # warm up
            for _ in range(3):
                assert (await engine.resume(execution_id, response="warm")).status == "halted"
        times: dict[int, list[float]] = {size: [] for size in SIZES}
        for round_number in range(rounds):
            order = SIZES if round_number % 2 == 0 else tuple(reversed(SIZES))
            for size in order:
                began = time.perf_counter()
                for n in range(resumes):
                    result = await engine.resume(ids[size], response=n)
                    if result.status != "halted":
                        raise RuntimeError(f"resume ended {result.status}: {result.error}")
                times[size].append((time.perf_counter() - began) / resumes)
        medians = {size: statistics.median(values) for size, values in times.items()}
        for size in SIZES:
            print(f"{name}: resume with {size:>5} entries: {medians[size] * 1000:8.3f} ms per resume", flush=True)
        return medians[SIZES[0]] / medians[SIZES[1]]
    finally:
        await sql_engine.dispose()


async def measure(
    postgres_url: str | None = None, *, resumes: int = 20, rounds: int = 5
) -> list[tuple[str, float, float]]:
    """``(ratio name, value, goal)`` on SQLite and, with ``postgres_url`` (an admin URL), on PostgreSQL."""
    ratios: list[tuple[str, float, float]] = []
    with collector.settled():  # as the app's processes collect (app/collector.py)
        with tempfile.TemporaryDirectory() as folder:
            value = await measure_database("sqlite", f"sqlite+aiosqlite:///{folder}/resume.db", resumes, rounds)
            ratios.append(("resume_10_over_10000_entries_sqlite", value, GOAL))
        if postgres_url is not None:
            server = PostgresServer(postgres_url)
            try:
                url = await server.create("packflow_bench_resume")
                value = await measure_database("postgresql", url, resumes, rounds)
                ratios.insert(0, ("resume_10_over_10000_entries", value, GOAL))
            finally:
                await server.drop_all()
    return ratios


async def main() -> None:
    began = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resumes", type=int, default=20, help="resumes per round and execution")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    postgres = None if args.no_postgres else args.postgres
    try:
        ratios = await measure(postgres, resumes=args.resumes, rounds=args.rounds)
    except OSError as error:  # no PostgreSQL server: SQLite only
        print(f"PostgreSQL not reachable at {args.postgres}: {error}; measuring SQLite only", file=sys.stderr)
        ratios = await measure(None, resumes=args.resumes, rounds=args.rounds)
    print(f"total wall time {time.perf_counter() - began:.1f}s (budget 300s)")
    for name, value, goal in ratios:
        print(f"RATIO {name} {value:.3f} goal {goal}")


if __name__ == "__main__":
    asyncio.run(main())
