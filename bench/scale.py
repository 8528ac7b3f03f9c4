"""Cost as work grows, every curve in one run: lists, resume, loops and checkpoints (small case's cost per
unit divided by the large case's: 1.0 is flat, higher is better).

- ``bench/scale_lists.py``: executions and contacts page 1 vs page 1000 (keyset), a 10k vs a 100k
  workspace, an unfiltered page vs a ``q=`` search (PostgreSQL);
- ``bench/scale_resume.py``: resume with 10 vs 10000 recorded entries (PostgreSQL and SQLite);
- ``bench/scale_loops.py``: time per loop iteration, K = 100 vs 5000 (PostgreSQL and SQLite);
- ``bench/scale_ctx.py``: time and WAL per step with a 1 KB vs a 900 KB ctx, and time per step with one
  new variable per step, 10 vs 1000 steps (marginal costs; PostgreSQL, and SQLite with a ``_sqlite``
  suffix).

    python bench/scale.py [--postgres URL]

Ends with one ``RATIO <name> <value> goal <goal>`` line per ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import scale_ctx
import scale_lists
import scale_loops
import scale_resume
from bench_postgres import PostgresServer

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CANONICAL = {"loop_iteration_100_over_5000_postgresql": "loop_iteration_100_over_5000"}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="an admin URL of the PostgreSQL server")
    args = parser.parse_args()
    began = time.perf_counter()
    ratios: list[tuple[str, float, float]] = []
    server = PostgresServer(args.postgres)
    for name, measure in (
        ("lists", scale_lists.measure),
        ("resume", scale_resume.measure),
        ("loops", scale_loops.measure),
        ("ctx", scale_ctx.measure),
    ):
        await server.settle()  # the lists' 200k rows are still being written out when the next curve starts
        started = time.perf_counter()
        ratios.extend(await measure(args.postgres))
        print(f"-- {name}: {time.perf_counter() - started:.0f} s", flush=True)
    await server.drop_all()
    print(f"-- all curves: {time.perf_counter() - began:.0f} s")
    for name, value, goal in ratios:
        print(f"RATIO {CANONICAL.get(name, name)} {value:.3f} goal {goal}")


if __name__ == "__main__":
    asyncio.run(main())
