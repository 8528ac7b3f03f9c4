"""Durable timers fired per second and their lateness, against DBOS Transact's durable ``sleep``.

Both sides run on the same PostgreSQL server, each on a fresh database created here and dropped at the
end:

- **Ours**: ``--timers`` executions of ``bench_timers_wait`` (bench-only pack
  ``bench/packflow_bench_timers_pack``: start, ``wait``, end) are inserted halted at their ``wait`` step
  with one ``wait`` timer each, all due at the same moment (the state a ``wait`` step leaves, written in
  one ``INSERT ... SELECT`` so that setting up 10k waits costs no workflow runs). ``litestar workflows
  worker`` processes (``PACKFLOW_QUEUE=saq``) were started before: their timer sweeps fire the timers
  (``PACKFLOW_TIMER_RESOLUTION_SECONDS``, default 0.5), each firing queues the execution's resume on
  SAQ, and the workers finish the executions. Measured with 1 and then 2 workers.
- **DBOS**: one process of this script (``--dbos-sleeper``) launches DBOS and starts the same number
  of async workflows whose only work is ``await DBOS.sleep_async(due - now)`` (its durable sleep), all
  due at the same moment, far enough ahead for every one to have started first: about 10 ms per start
  in its first round, a third more than the last round's starts took in a later one (``--dbos-lead``
  fixes it). A round whose starts ended after the due time measured DBOS's starts, not its timers: it
  does not count, and one more round follows when none counted.

Fired per second = timers / (last completion - due time), from the database (our executions'
``updated_at``, DBOS's ``workflow_status.completed_at``); lateness = completion - due time, p50 and
p99 over all of them (ours also shows when the timers themselves fired, ``workflow_timers.fired_at``).
CPU per timer: our worker processes' CPU time from the insert to the last completion, DBOS's process's
from its last start to its exit (the server's CPU counts on neither side). The machine is shared:
``--samples`` rounds of ours and ``--dbos-samples`` of DBOS (default 1: starting 10k DBOS workflows takes
70-90 s of a round, two would not fit in five minutes) run in turn, and each side's best round makes the
ratios. Each round begins with a ``CHECKPOINT`` (what earlier rounds wrote is on disk before it starts).
DBOS is not a project dependency: ``.venv/bin/pip install dbos`` first (measured with 3.4.0); without
it the script says so and measures only ours.

    python bench/workflow_timers.py [--timers N] [--workers 1,2] [--concurrency C] [--lead S] [--samples N]
                                    [--dbos-samples N] [--dbos-lead S] [--postgres URL] [--no-dbos]
                                    [--worker-env KEY=VALUE ...]

Ends with ``RATIO timers_vs_dbos_sleep <ours on 1 worker / DBOS on 1 process> goal 2.0``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from bench_postgres import PostgresServer, plain_url
from workflow_queue import Workers

SCRIPT = Path(__file__).resolve()
BENCH = SCRIPT.parent
REPO = BENCH.parent
if str(REPO) not in sys.path:  # run as ``python bench/workflow_timers.py``
    sys.path.insert(0, str(REPO))

GOAL = 2.0
PACK = "bench_timers"
PACK_MODULE = "packflow_bench_timers_pack"
WORKFLOW_ID = "bench_timers_wait"
DBOS_APP = "packflow_bench_timers"
DBOS_WORKFLOW = "bench_timers_sleeper"
STARTED = "BENCH-DBOS-STARTED"
FINISHED = "BENCH-DBOS-FINISHED"
DRAIN_TIMEOUT = 150.0

INSERT_WAITING = """
WITH ids AS (SELECT gen_random_uuid() AS id FROM generate_series(1, $1)),
executions AS (
    INSERT INTO workflow_executions
        (id, workflow_id, status, input, ctx, current_step, recover_to, halt_data, created_at, updated_at, attempts)
    SELECT id, $2, 'halted', '{}'::jsonb,
           jsonb_build_object('_waits', jsonb_build_object('pause', $3::text)),
           'pause', 'pause',
           jsonb_build_object('type', 'wait', 'due_at', $3::text, 'timer_id', id::text),
           now(), now(), 0
    FROM ids
    RETURNING id
)
INSERT INTO workflow_timers (id, kind, due_at, execution_id, payload, created_at)
SELECT id, 'wait', $4, id, '{"step_id": "pause"}'::jsonb, now() FROM executions
"""

OUR_PROGRESS = """
SELECT count(*) FILTER (WHERE status = 'completed') AS done,
       count(*) FILTER (WHERE status IN ('failed', 'cancelled')) AS bad
FROM workflow_executions WHERE workflow_id = $1
"""

OUR_FIGURES = """
SELECT extract(epoch FROM max(e.updated_at)) AS last,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.updated_at - t.due_at)) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM e.updated_at - t.due_at)) AS p99,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.fired_at - t.due_at)) AS fired_p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM t.fired_at - t.due_at)) AS fired_p99
FROM workflow_executions e JOIN workflow_timers t ON t.execution_id = e.id
WHERE e.workflow_id = $1
"""

DBOS_PROGRESS = """
SELECT count(*) FILTER (WHERE status = 'SUCCESS') AS done,
       count(*) FILTER (WHERE status NOT IN ('SUCCESS', 'ENQUEUED', 'PENDING')) AS bad
FROM dbos.workflow_status WHERE name = $1
"""

DBOS_FIGURES = """
SELECT max(completed_at) / 1000.0 AS last,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY completed_at / 1000.0 - $2) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY completed_at / 1000.0 - $2) AS p99
FROM dbos.workflow_status WHERE name = $1 AND status = 'SUCCESS'
"""


# -- the DBOS process (this script run with --dbos-sleeper) -----------------------------------------


def dbos_sleeper(args: argparse.Namespace) -> None:
    """Launch DBOS, start ``--timers`` sleeping workflows all due at ``--due``, wait for them, exit."""
    from dbos import DBOS

    @DBOS.workflow(name=DBOS_WORKFLOW)
    async def sleeper(due: float) -> None:
        await DBOS.sleep_async(max(0.0, due - time.time()))

    async def main() -> None:
        DBOS(
            config={
                "name": DBOS_APP,
                "system_database_url": args.system_database_url,
                "log_level": "WARNING",
                "executor_id": "bench-sleeper",
                "application_version": "bench",
            }
        )
        DBOS.launch()
        try:
            handles: list[Any] = []
            began = time.time()
            for first in range(0, args.timers, 200):
                chunk = range(first, min(first + 200, args.timers))
                handles += await asyncio.gather(*(DBOS.start_workflow_async(sleeper, args.due) for _ in chunk))
            now = time.time()
            print(f"{STARTED} {now:.3f} {time.process_time():.3f} {now - began:.3f}", flush=True)
            for handle in handles:
                await handle.get_result()
            print(f"{FINISHED} {time.process_time():.3f}", flush=True)
        finally:
            DBOS.destroy(destroy_registry=True)

    asyncio.run(main())


# -- measurements ------------------------------------------------------------------------------------


def pack_folder(folder: Path) -> None:
    """Declare the bench pack as a distribution in ``folder`` (as ``tests/fixture_packs/install.py`` does)."""
    dist_info = folder / "packflow_bench_timers_pack-0.0.0.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: packflow-bench-timers-pack\nVersion: 0.0.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(f"[packflow.packs]\n{PACK} = {PACK_MODULE}\n", encoding="utf-8")


async def drain(connection: asyncpg.Connection, query: str, name: str, count: int, what: str) -> None:
    """Wait until ``count`` are done (none failed)."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        row = await connection.fetchrow(query, name)
        if row["bad"]:
            raise RuntimeError(f"{what}: {row['bad']} failed")
        if row["done"] >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {row['done']}/{count} done after {DRAIN_TIMEOUT:.0f}s")
        await asyncio.sleep(0.2)


async def measure_ours(server: PostgresServer, folder: Path, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.database import upgrade_database
    from app.queue import SAQAdapter, saq_plugin
    from app.settings import default_queue_url

    url = await server.create("packflow_bench_timers")
    engine = create_async_engine(url)
    await upgrade_database(engine)
    await engine.dispose()
    adapter = SAQAdapter(saq_plugin(default_queue_url(url), args.concurrency))
    await adapter.connect()  # SAQ creates its tables: once here, not in a race of workers
    await adapter.disconnect()
    base = {k: v for k, v in os.environ.items() if not k.startswith("PACKFLOW_")}
    extra = dict(item.split("=", 1) for item in args.worker_env)
    env = {
        **base,
        "PACKFLOW_DATABASE_URL": url,
        "PACKFLOW_QUEUE": "saq",
        "PACKFLOW_PACKS": PACK,
        "PACKFLOW_AUTO_MIGRATE": "false",
        "PACKFLOW_WORKER_CONCURRENCY": str(args.concurrency),  # the connection pool fits what runs at once
        "PYTHONPATH": os.pathsep.join(p for p in (str(folder), str(BENCH), str(REPO), base.get("PYTHONPATH", "")) if p),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    command = [sys.executable, "-m", "litestar", "workflows", "worker", "--concurrency", str(args.concurrency)]
    pool = Workers(
        [(command, env) for _ in range(workers)],
        lambda line: "workflow worker" in line and line.rstrip().endswith(" ready"),
    )
    await server.settle()
    connection = await asyncpg.connect(plain_url(url))
    try:
        pool.start()
        due = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=args.lead)
        cpu_before = sum(cpu_seconds(process.pid) for process in pool.processes)
        await connection.execute(INSERT_WAITING, args.timers, WORKFLOW_ID, due.isoformat(), due)
        await drain(connection, OUR_PROGRESS, WORKFLOW_ID, args.timers, f"ours, {workers} worker(s)")
        cpu = sum(cpu_seconds(process.pid) for process in pool.processes) - cpu_before
        pool.check()
        row = await connection.fetchrow(OUR_FIGURES, WORKFLOW_ID)
    finally:
        pool.stop()
        await connection.close()
    took = float(row["last"]) - due.timestamp()
    return {
        "side": f"ours_{workers}w",
        "timers": args.timers,
        "per_second": args.timers / took,
        "p50": float(row["p50"]),
        "p99": float(row["p99"]),
        "fired_p50": float(row["fired_p50"]),
        "fired_p99": float(row["fired_p99"]),
        "cpu_ms_per_timer": cpu * 1000 / args.timers,
    }


async def measure_dbos(server: PostgresServer, args: argparse.Namespace, lead: float) -> dict[str, Any]:
    """One DBOS round, its sleepers due ``lead`` seconds after the process starts; ``valid``: every workflow
    had started before that due time (else the round measured DBOS's starts, not its timers)."""
    dsn = plain_url(await server.create("packflow_bench_dbos_sleep"))
    await server.settle()
    due = time.time() + lead
    command = [
        sys.executable,
        str(SCRIPT),
        "--dbos-sleeper",
        "--system-database-url",
        dsn,
        "--timers",
        str(args.timers),
        "--due",
        f"{due:.3f}",
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    output: list[str] = []
    started_at: float | None = None
    cpu_started = cpu_finished = starting = 0.0
    try:
        async with asyncio.timeout(lead + DRAIN_TIMEOUT):
            async for raw in process.stdout:
                line = raw.decode(errors="replace")
                output.append(line)
                if line.startswith(STARTED):
                    started_at, cpu_started, starting = (float(word) for word in line.split()[1:4])
                elif line.startswith(FINISHED):
                    cpu_finished = float(line.split()[1])
            code = await process.wait()
    except TimeoutError:
        process.kill()
        raise RuntimeError("DBOS: the sleeping workflows did not finish in time:\n" + "".join(output[-30:])) from None
    if code != 0 or started_at is None:
        raise RuntimeError(f"DBOS process exited with {code}:\n" + "".join(output[-30:]))
    if started_at > due:
        print(
            f"  (DBOS: starting the workflows took {starting:.1f}s and ended {started_at - due:.1f}s after their due "
            "time: this round does not count)"
        )
    connection = await asyncpg.connect(dsn)
    try:
        await drain(connection, DBOS_PROGRESS, DBOS_WORKFLOW, args.timers, "DBOS")
        row = await connection.fetchrow(DBOS_FIGURES, DBOS_WORKFLOW, due)
    finally:
        await connection.close()
    return {
        "side": "dbos_1p",
        "timers": args.timers,
        "per_second": args.timers / (float(row["last"]) - due),
        "p50": float(row["p50"]),
        "p99": float(row["p99"]),
        "started_before_due_s": due - started_at,
        "starting_s": starting,
        "valid": started_at <= due,
        "cpu_ms_per_timer": (cpu_finished - cpu_started) * 1000 / args.timers,
    }


def dbos_lead(args: argparse.Namespace, results: list[dict[str, Any]]) -> float:
    """Seconds from starting the DBOS process to its sleepers' due time: ``--dbos-lead``, else room for the
    starts the last DBOS round took (a third more, plus the launch), else a first guess from ``--timers``."""
    if args.dbos_lead is not None:
        return float(args.dbos_lead)
    rounds = [r for r in results if r["side"] == "dbos_1p"]
    if rounds:
        return 8.0 + 1.33 * max(r["starting_s"] for r in rounds)
    return 8.0 + args.timers / 100.0  # about 7-9 ms per start on the 2-CPU machine, with 10k sleeping


def show(result: dict[str, Any]) -> None:
    fired = ""
    if "fired_p50" in result:
        fired = f"; timers fired p50 {result['fired_p50'] * 1000:.0f} ms, p99 {result['fired_p99'] * 1000:.0f} ms"
    print(
        f"  {result['side']:>8}: {result['timers']} due at once: {result['per_second']:8.1f}/s; "
        f"completed p50 {result['p50'] * 1000:.0f} ms, p99 {result['p99'] * 1000:.0f} ms late{fired}; "
        f"CPU {result['cpu_ms_per_timer']:.2f} ms/timer",
        flush=True,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench(args: argparse.Namespace) -> None:
    server = PostgresServer(args.postgres)
    results: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-timers-") as temporary:
            folder = Path(temporary)
            pack_folder(folder)
            with_dbos = not args.no_dbos
            if with_dbos:
                try:
                    import dbos  # noqa: F401
                except ImportError:
                    print("  dbos is not installed (.venv/bin/pip install dbos): measuring ours only")
                    with_dbos = False
            for sample in range(1, args.samples + 1):
                print(f"round {sample}/{args.samples}", flush=True)
                for count in args.workers:
                    results.append(await measure_ours(server, folder, count, args))
                    show(results[-1])
                if with_dbos and sample <= args.dbos_samples:
                    results.append(await measure_dbos(server, args, dbos_lead(args, results)))
                    show(results[-1])
            if with_dbos and not any(r.get("valid") for r in results if r["side"] == "dbos_1p"):
                print("DBOS again, with room for the starts it took", flush=True)
                results.append(await measure_dbos(server, args, dbos_lead(args, results)))
                show(results[-1])
    finally:
        await server.drop_all()
    print(json.dumps(results))
    by_side: dict[str, dict[str, Any]] = {}
    for result in results:  # each side's best round (of DBOS's, those whose workflows all started before due)
        if result.get("valid") is False:
            continue
        best = by_side.get(result["side"])
        if best is None or result["per_second"] > best["per_second"]:
            by_side[result["side"]] = result
    print("best rounds:")
    for result in by_side.values():
        show(result)
    if "ours_1w" in by_side and "ours_2w" in by_side:
        print(
            f"RATIO timers_2_over_1_workers {by_side['ours_2w']['per_second'] / by_side['ours_1w']['per_second']:.2f}"
        )
    if with_dbos and "dbos_1p" not in by_side:
        print("DBOS: no round whose workflows all started before their due time (raise --dbos-lead): no ratio")
    if "ours_1w" in by_side and "dbos_1p" in by_side:
        cpu = min(r["cpu_ms_per_timer"] for r in results if r["side"] == "dbos_1p" and r["valid"]) / min(
            r["cpu_ms_per_timer"] for r in results if r["side"] == "ours_1w"
        )
        print(f"RATIO timers_cpu_dbos_over_ours {cpu:.2f}")
        ratio = by_side["ours_1w"]["per_second"] / by_side["dbos_1p"]["per_second"]
        print(f"RATIO timers_vs_dbos_sleep {ratio:.2f} goal {GOAL}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=10_000, help="timers due at once")
    parser.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2])
    parser.add_argument("--concurrency", type=int, default=20, help="executions one worker runs at once")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds from inserting our timers to their due time")
    parser.add_argument("--samples", type=int, default=2, help="rounds of ours (each side's best counts)")
    parser.add_argument(
        "--dbos-samples", type=int, default=1, help="rounds of DBOS (most of one is starting its workflows)"
    )
    parser.add_argument(
        "--dbos-lead", type=float, default=None, help="seconds DBOS gets to start its workflows (default: measured)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PACKFLOW_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--no-dbos", action="store_true")
    parser.add_argument("--worker-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--dbos-sleeper", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--system-database-url", help=argparse.SUPPRESS)
    parser.add_argument("--due", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dbos_sleeper:
        dbos_sleeper(args)
        return
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
