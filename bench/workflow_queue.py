"""Queued executions per second (10-step workflow) on worker processes, against DBOS Transact queues.

Both sides run on the same PostgreSQL server, each on a fresh database created here and dropped at
the end, with 1 and then 2 worker processes, in the same run:

- **Ours**: ``PACKFLOW_QUEUE=saq`` (SAQ through litestar-saq, the queue in the app's own database).
  The workflow ``bench_queue_steps`` (bench-only pack ``bench/packflow_bench_queue_pack``) has 10
  steps: ``start``, eight ``call`` steps awaiting a trivial async service that returns a small dict
  and writes nothing, then ``end``. Workers are ``litestar workflows worker --concurrency C``
  processes. Executions are enqueued through the app's API (``create_app(Settings(...))``,
  ``app.state.workflows.service.runner(...).run(...)``: insert the execution, enqueue its SAQ job).
- **DBOS**: a queue registered with ``DBOS.register_queue(worker_concurrency=C, polling_interval_sec=P)``;
  the workflow calls ten ``@DBOS.step()`` functions returning the same small dict. Workers are
  processes of this script running ``DBOS.launch()`` (each with its own executor id); executions are
  enqueued with ``DBOSClient.enqueue`` (from threads). Sync workflows by default (run on DBOS's
  thread pool; ``--dbos-style async`` for async workflows on its event loop, ``both`` for the faster).

One measurement: start the workers and wait until each says it is ready, enqueue ``--executions``
executions as fast as the enqueuing side can (``--enqueuers`` asyncio tasks / threads of this
process, so enqueuing overlaps the draining), and wait until all are completed. Executions/s =
executions / (last completion time, read from the database, - first enqueue). Each measurement also
prints the CPU time per execution of the workers, of the PostgreSQL server processes and of the
enqueuing process (from ``/proc``), how busy the machine was and its CPU per execution, every process
counted: on a small or shared machine the 2-worker figures are bounded by CPU, not by either queue (the
summary prints the most 2 workers can reach over 1 here, 1 / the share of the machine that 1 worker kept
busy, and how much more CPU an execution cost the machine on 2 workers than on 1). Rounds alternate the
sides (in reversed order every other round); the figures are medians; no round starts past ``--budget``
seconds.

Settings (chosen by trying 4-32 per worker and DBOS polling 0.01-1 s; on the 2-CPU machine measured,
throughput was CPU-bound and flat across them within the noise): ours ``--concurrency 10`` (the
``PACKFLOW_WORKER_CONCURRENCY`` default); DBOS ``worker_concurrency=10`` and ``polling_interval_sec=0.05``
(its default of 1 s caps a worker at ``worker_concurrency`` executions per second), sync workflows
(faster than async ones here). DBOS is not a project dependency: ``.venv/bin/pip install dbos``
(measured with 3.4.0) first; without it the script says so and measures only ours.

    python bench/workflow_queue.py [--executions N] [--rounds R] [--workers 1,2] [--concurrency C]
                                   [--dbos-concurrency C] [--dbos-polling S] [--dbos-style sync|async|both]
                                   [--enqueuers E] [--worker-env KEY=VALUE ...] [--postgres URL]
                                   [--no-dbos | --no-ours] [--quiet] [--budget S]
    python bench/workflow_queue.py --profile   # ours only: one worker under cProfile, its profile

``--worker-env`` passes ``PACKFLOW_*`` (or any) variables to our workers (``PYTHONPATH`` is prepended).

Prints the figures and ends with ``RATIO <name> <value> goal <goal>`` lines (ours / DBOS, and ours on 2
workers / ours on 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from bench_postgres import PostgresServer, plain_url

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:  # run as ``python bench/workflow_queue.py``
    sys.path.insert(0, str(REPO))

GOAL = 2.0
WORKERS_GOAL = 1.15
"""Ours on 2 workers over ours on 1 (``RATIO queue_2_over_1_workers``)."""
STEPS = 10
PACK = "bench_queue"
PACK_MODULE = "packflow_bench_queue_pack"
WORKFLOW_ID = "bench_queue_steps"
DBOS_APP = "packflow_bench_queue"
DBOS_QUEUE = "bench_queue"
DBOS_VERSION_TAG = "bench"
DBOS_WORKFLOWS = {"sync": "bench_queue_sync", "async": "bench_queue_async"}
READY = "BENCH-WORKER-READY"
READY_TIMEOUT = 60.0
DRAIN_TIMEOUT = 120.0


# -- the DBOS worker process (this script run with --dbos-worker) ----------------------------------


def dbos_worker(args: argparse.Namespace) -> None:
    """A DBOS process: the workflows, launch, then dequeue until SIGTERM (or, with --dbos-setup, migrate and exit)."""
    from dbos import DBOS

    @DBOS.step()
    def sync_step(i: int, value: Any) -> dict[str, Any]:
        return {"ok": True, "value": value, "i": i}

    @DBOS.workflow(name=DBOS_WORKFLOWS["sync"])
    def sync_workflow(n: int) -> Any:
        output = None
        for index in range(1, STEPS + 1):
            output = sync_step(index, n)
        return output

    @DBOS.step()
    async def async_step(i: int, value: Any) -> dict[str, Any]:
        return {"ok": True, "value": value, "i": i}

    @DBOS.workflow(name=DBOS_WORKFLOWS["async"])
    async def async_workflow(n: int) -> Any:
        output = None
        for index in range(1, STEPS + 1):
            output = await async_step(index, n)
        return output

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    DBOS(
        config={
            "name": DBOS_APP,
            "system_database_url": args.system_database_url,
            "log_level": "WARNING",
            "executor_id": args.executor_id,
            "application_version": DBOS_VERSION_TAG,
        }
    )
    DBOS.launch()
    try:
        if args.dbos_setup:
            DBOS.register_queue(
                DBOS_QUEUE,
                worker_concurrency=args.dbos_concurrency,
                polling_interval_sec=args.dbos_polling,
                on_conflict="always_update",
            )
            return
        print(READY, flush=True)
        stop.wait()
    finally:
        DBOS.destroy(destroy_registry=True)


# -- worker processes --------------------------------------------------------------------------------


class Workers:
    """Worker subprocesses; :meth:`start` returns once each has printed its ready line."""

    def __init__(self, commands: list[tuple[list[str], dict[str, str]]], ready: Callable[[str], bool]) -> None:
        self.commands = commands
        self.is_ready = ready
        self.processes: list[subprocess.Popen[str]] = []
        self.output: list[list[str]] = []

    def start(self) -> float:
        """Start every worker at once; seconds until all are ready."""
        began = time.perf_counter()
        ready: queue.Queue[int] = queue.Queue()
        for index, (command, env) in enumerate(self.commands):
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            self.processes.append(process)
            lines: list[str] = []
            self.output.append(lines)
            threading.Thread(target=self._read, args=(index, process, lines, ready), daemon=True).start()
        waiting = set(range(len(self.processes)))
        deadline = time.monotonic() + READY_TIMEOUT
        while waiting:
            try:
                waiting.discard(ready.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise RuntimeError(f"workers not ready after {READY_TIMEOUT:.0f}s:\n{self.log()}") from None
            for index in list(waiting):
                if self.processes[index].poll() is not None:
                    raise RuntimeError(f"worker {index} exited with {self.processes[index].returncode}:\n{self.log()}")
        return time.perf_counter() - began

    def _read(self, index: int, process: subprocess.Popen[str], lines: list[str], ready: queue.Queue[int]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if self.is_ready(line):
                ready.put(index)

    def check(self) -> None:
        """Raise when a worker has exited."""
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                raise RuntimeError(f"worker {index} exited with {process.returncode}:\n{self.log()}")

    def log(self) -> str:
        return "\n".join(f"--- worker {index}\n{''.join(lines[-40:])}" for index, lines in enumerate(self.output))

    def stop(self) -> None:
        """SIGTERM every worker, wait; SIGKILL a worker that does not stop within 15 seconds."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def pack_folder(folder: Path) -> None:
    """Declare the bench pack as a distribution in ``folder`` (as ``tests/fixture_packs/install.py`` does)."""
    dist_info = folder / "packflow_bench_queue_pack-0.0.0.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: packflow-bench-queue-pack\nVersion: 0.0.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(f"[packflow.packs]\n{PACK} = {PACK_MODULE}\n", encoding="utf-8")


# -- our side ------------------------------------------------------------------------------------


class OurSide:
    """The app (enqueues through its workflow service) and ``litestar workflows worker`` processes."""

    name = "ours"
    label = "ours"

    def __init__(self, url: str, folder: Path, args: argparse.Namespace) -> None:
        from app import create_app
        from app.settings import Settings, default_queue_url

        self.url = url
        self.args = args
        self.dsn = plain_url(url)
        self.settings = Settings(
            database_url=url,
            packs=(PACK,),
            queue="saq",
            queue_url=default_queue_url(url),
            auto_migrate=False,
            worker_concurrency=args.concurrency,
        )
        self.app = create_app(self.settings)
        for name in ("saq", "alembic"):  # the app's logging config shows their per-job / per-migration INFO lines
            logging.getLogger(name).setLevel(logging.WARNING)
        self.runtime = self.app.state.workflows
        self.runner = self.runtime.service.runner(WORKFLOW_ID)
        base = {k: v for k, v in os.environ.items() if not k.startswith("PACKFLOW_")}
        extra = dict(item.split("=", 1) for item in args.worker_env)
        paths = [extra.pop("PYTHONPATH", ""), str(folder), str(BENCH), str(REPO), base.get("PYTHONPATH", "")]
        self.env = {
            **base,
            "PACKFLOW_DATABASE_URL": url,
            "PACKFLOW_QUEUE": "saq",
            "PACKFLOW_PACKS": PACK,
            "PACKFLOW_WORKER_CONCURRENCY": str(args.concurrency),
            "PYTHONPATH": os.pathsep.join(path for path in paths if path),
            "PYTHONUNBUFFERED": "1",
            **extra,  # a PYTHONPATH given here goes first
        }

    async def open(self) -> None:
        from app.database import upgrade_database
        from app.plugin import PackflowPlugin

        engine = self.app.plugins.get(PackflowPlugin).db.get_engine()
        await upgrade_database(engine)
        await self.runtime.adapter.connect()  # creates SAQ's tables

    async def close(self) -> None:
        from app.plugin import PackflowPlugin

        await self.runtime.adapter.disconnect()
        await self.app.plugins.get(PackflowPlugin).db.get_engine().dispose()

    def workers(self, count: int) -> Workers:
        # The command prints a banner before it connects; the SAQ startup hook logs "... ready" once started.
        worker = ["-m", "litestar", "workflows", "worker", "--concurrency", str(self.args.concurrency)]
        commands = []
        for index in range(count):
            profile = ["-m", "cProfile", "-o", f"{self.args.profile_dir}/worker-{index}.prof"]
            commands.append(([sys.executable, *(profile if self.args.profile_dir else []), *worker], self.env))
        return Workers(commands, lambda line: "workflow worker" in line and line.rstrip().endswith(" ready"))

    async def enqueue(self, count: int, enqueuers: int) -> list[str]:
        """Queue ``count`` executions from ``enqueuers`` tasks; their ids."""
        ids: list[str] = []
        numbers = iter(range(count))

        async def enqueuer() -> None:
            for n in numbers:
                ids.append(await self.runner.run({"n": n}))

        await asyncio.gather(*(enqueuer() for _ in range(enqueuers)))
        return ids

    async def progress(self, connection: asyncpg.Connection, ids: list[str]) -> tuple[int, int, float | None]:
        """(completed, failed or cancelled, last completion as epoch seconds, once all are completed)."""
        return await poll_progress(
            connection,
            ids,
            "SELECT count(*) FILTER (WHERE status IN ('pending', 'running')) AS open,"
            " count(*) FILTER (WHERE status IN ('failed', 'cancelled')) AS bad"
            " FROM workflow_executions WHERE status IN ('pending', 'running', 'failed', 'cancelled')",
            "SELECT count(*) FILTER (WHERE status = 'completed') AS done,"
            " extract(epoch FROM max(updated_at) FILTER (WHERE status = 'completed')) AS last"
            " FROM workflow_executions WHERE id = ANY($1::uuid[])",
        )

    async def check_output(self, connection: asyncpg.Connection, ids: list[str]) -> None:
        row = await connection.fetchrow("SELECT input, result FROM workflow_executions WHERE id = $1::uuid", ids[-1])
        given, result = (json.loads(value) if isinstance(value, str) else value for value in row)
        if result != {"last": {"ok": True, "value": given["n"], "i": STEPS - 2}}:
            raise RuntimeError(f"unexpected result {result!r}")


async def poll_progress(
    connection: asyncpg.Connection, ids: list[str], unfinished_sql: str, finished_sql: str
) -> tuple[int, int, float | None]:
    """(completed, failed, last completion as epoch seconds) of ``ids``, the measurement's executions.

    ``unfinished_sql`` counts the ``open`` (queued or running) and the ``bad`` (failed) executions through the
    status index, so a poll costs the server what is left to do, not a lookup of every id (up to 4 ms of the
    server's CPU every 50 ms: the bench must not load the machine it measures). The earlier rounds' executions
    are all finished, so ``open`` is this measurement's. Once none is open, ``finished_sql`` reads ``ids``
    themselves: their ``done`` count and ``last`` completion time, which the rate is computed from.
    """
    row = await connection.fetchrow(unfinished_sql)
    if row["open"] or row["bad"]:
        return len(ids) - row["open"] - row["bad"], row["bad"], None
    row = await connection.fetchrow(finished_sql, ids)
    return row["done"], 0, None if row["last"] is None else float(row["last"])


# -- the DBOS side -------------------------------------------------------------------------------


class DbosSide:
    """DBOS worker processes (this script with ``--dbos-worker``) and a ``DBOSClient`` that enqueues."""

    name = "dbos"

    def __init__(self, url: str, args: argparse.Namespace) -> None:
        self.dsn = plain_url(url)
        self.args = args
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.client: Any = None
        self.style = "sync"

    @property
    def label(self) -> str:
        return f"dbos_{self.style}"

    def command(self, executor_id: str, *extra: str) -> list[str]:
        return [
            sys.executable,
            str(Path(__file__).resolve()),
            "--dbos-worker",
            "--system-database-url",
            self.dsn,
            "--executor-id",
            executor_id,
            "--dbos-concurrency",
            str(self.args.dbos_concurrency),
            "--dbos-polling",
            str(self.args.dbos_polling),
            *extra,
        ]

    async def open(self) -> None:
        """Migrate the system database and register the queue (one DBOS launch), then connect the client."""
        from dbos import DBOSClient

        setup = await asyncio.to_thread(
            subprocess.run,
            self.command("bench-setup", "--dbos-setup"),
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if setup.returncode != 0:
            raise RuntimeError(f"DBOS setup failed:\n{setup.stdout}{setup.stderr}")
        self.client = DBOSClient(system_database_url=self.dsn, application_name=DBOS_APP)

    async def close(self) -> None:
        if self.client is not None:
            self.client.destroy()

    def workers(self, count: int) -> Workers:
        run = uuid.uuid4().hex[:8]
        return Workers(
            [(self.command(f"bench-{run}-{index}"), self.env) for index in range(count)], lambda line: READY in line
        )

    async def enqueue(self, count: int, enqueuers: int) -> list[str]:
        """Queue ``count`` workflows from ``enqueuers`` threads; their ids."""
        prefix = uuid.uuid4().hex
        ids = [f"{prefix}-{n}" for n in range(count)]
        numbers = iter(range(count))
        lock = threading.Lock()
        client = self.client
        name = DBOS_WORKFLOWS[self.style]

        def enqueuer() -> None:
            while True:
                with lock:
                    n = next(numbers, None)
                if n is None:
                    return
                options = {
                    "workflow_name": name,
                    "queue_name": DBOS_QUEUE,
                    "workflow_id": ids[n],
                    "app_version": DBOS_VERSION_TAG,
                }
                client.enqueue(options, n)

        with ThreadPoolExecutor(max_workers=enqueuers, thread_name_prefix="bench-enqueue-") as pool:
            await asyncio.gather(*(asyncio.wrap_future(pool.submit(enqueuer)) for _ in range(enqueuers)))
        return ids

    async def progress(self, connection: asyncpg.Connection, ids: list[str]) -> tuple[int, int, float | None]:
        return await poll_progress(
            connection,
            ids,
            "SELECT count(*) FILTER (WHERE status IN ('ENQUEUED', 'PENDING')) AS open,"
            " count(*) FILTER (WHERE status NOT IN ('ENQUEUED', 'PENDING')) AS bad"
            " FROM dbos.workflow_status"
            " WHERE status IN ('ENQUEUED', 'PENDING', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')",
            "SELECT count(*) FILTER (WHERE status = 'SUCCESS') AS done,"
            " max(completed_at) FILTER (WHERE status = 'SUCCESS') / 1000.0 AS last"
            " FROM dbos.workflow_status WHERE workflow_uuid = ANY($1::text[])",
        )

    async def check_output(self, connection: asyncpg.Connection, ids: list[str]) -> None:
        result = await asyncio.to_thread(lambda: self.client.retrieve_workflow(ids[-1]).get_result())
        if result != {"ok": True, "value": len(ids) - 1, "i": STEPS}:
            raise RuntimeError(f"unexpected DBOS result {result!r}")


# -- measurements --------------------------------------------------------------------------------

Side = OurSide | DbosSide


class CpuMeter:
    """CPU seconds (Linux ``/proc``) of the workers, the PostgreSQL backends serving ``database`` and this
    process, and the machine's busy fraction, between :meth:`start` and :meth:`stop`; zeros where ``/proc`` is
    missing. Only the measured database's backends count (a backend's title names its database): on a shared
    server the other databases' work is not ours; a backend that exits meanwhile is not counted."""

    TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, worker_pids: list[int], database: str) -> None:
        self.worker_pids = worker_pids
        self.database = database

    @classmethod
    def _cpu(cls, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / cls.TICKS  # utime + stime

    def _postgres_pids(self) -> list[int]:
        pids = []
        title = f" {self.database} ".encode()
        for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
            with contextlib.suppress(OSError):
                if (
                    entry.name.isdigit()
                    and (entry / "comm").read_text().strip() == "postgres"
                    and title in (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                ):
                    pids.append(int(entry.name))
        return pids

    @staticmethod
    def _machine() -> tuple[float, float]:
        try:
            values = [float(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except (OSError, IndexError, ValueError):
            return 0.0, 0.0
        idle = values[3] + (values[4] if len(values) > 4 else 0.0)
        return sum(values) - idle, sum(values)

    def _sample(self) -> tuple[dict[int, float], dict[int, float], float, tuple[float, float]]:
        return (
            {pid: self._cpu(pid) for pid in self.worker_pids},
            {pid: self._cpu(pid) for pid in self._postgres_pids()},
            time.process_time(),
            self._machine(),
        )

    def start(self) -> None:
        self.before = self._sample()

    def stop(self) -> dict[str, float]:
        """``workers``, ``postgres``, ``bench`` CPU seconds, ``busy`` (fraction of all CPUs) and ``machine`` (CPU
        seconds of every process on the machine)."""
        workers, postgres, bench, (busy, total) = self._sample()
        workers0, postgres0, bench0, (busy0, total0) = self.before
        return {
            "workers": sum(value - workers0.get(pid, 0.0) for pid, value in workers.items()),
            "postgres": sum(value - postgres0.get(pid, 0.0) for pid, value in postgres.items()),
            "bench": bench - bench0,
            "busy": (busy - busy0) / (total - total0) if total > total0 else 0.0,
            "machine": (busy - busy0) / self.TICKS,
        }


STATS_FLUSH_SECONDS = 1.5
"""A backend reports its transaction counts at most once a second (PostgreSQL 15): wait this long before reading."""


async def database_counts(connection: asyncpg.Connection) -> tuple[int, int]:
    """(transactions ended, sessions opened) so far in ``connection``'s database, from ``pg_stat_database``."""
    row = await connection.fetchrow(
        "SELECT xact_commit + xact_rollback AS transactions, sessions FROM pg_stat_database"
        " WHERE datname = current_database()"
    )
    return int(row["transactions"]), int(row["sessions"])


async def measure(side: Side, workers: int, args: argparse.Namespace) -> tuple[float, float, float]:
    """Executions/s of one measurement, how busy the machine was (a fraction of all its CPUs) and the machine's CPU
    milliseconds per execution (every process): start ``workers`` processes, enqueue, wait until all are completed.

    Also prints the CPU per execution (:class:`CpuMeter`) and, from ``pg_stat_database``, the transactions
    per execution (each statement outside a transaction counts as one) and the connections opened per
    execution, from the first enqueue until the workers have stopped (this script's own queries subtracted).
    """
    processes = side.workers(workers)
    connection = await asyncpg.connect(side.dsn)
    polls = 0
    try:
        await asyncio.to_thread(processes.start)
        await asyncio.sleep(max(args.settle, STATS_FLUSH_SECONDS))
        meter = CpuMeter(
            [process.pid for process in processes.processes], await connection.fetchval("SELECT current_database()")
        )
        counts_before = await database_counts(connection)
        meter.start()
        began = time.time()
        ids = await side.enqueue(args.executions, args.enqueuers)
        enqueued = time.time() - began
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while True:
            polls += 1
            done, bad, last = await side.progress(connection, ids)
            if bad:
                raise RuntimeError(f"{side.name}: {bad} executions failed:\n{processes.log()}")
            if done == len(ids):
                break
            processes.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{side.name}: {done}/{len(ids)} completed after {DRAIN_TIMEOUT:.0f}s")
            await asyncio.sleep(0.05)
        cpu = meter.stop()
        await side.check_output(connection, ids)
        await asyncio.to_thread(processes.stop)
        await asyncio.sleep(STATS_FLUSH_SECONDS)
        transactions, sessions = (
            after - before for after, before in zip(await database_counts(connection), counts_before, strict=True)
        )
        # the progress queries (the last one two), check_output, current_database() and the first count
        transactions -= polls + 4
    finally:
        await asyncio.to_thread(processes.stop)
        await connection.close()
    assert last is not None
    rate = len(ids) / (last - began)
    if not args.quiet:
        per = {name: cpu[name] * 1000 / len(ids) for name in ("workers", "postgres", "bench")}
        print(
            f"    {side.label:10} {workers} worker(s): {rate:7.1f} executions/s (enqueued in {enqueued:.2f}s, all "
            f"completed at {last - began:.2f}s); CPU ms/execution: workers {per['workers']:.1f}, PostgreSQL "
            f"backends {per['postgres']:.1f}, enqueuer {per['bench']:.1f}; per execution: "
            f"{transactions / len(ids):.1f} transactions, {sessions / len(ids):.3f} connections opened; "
            f"machine {cpu['busy']:.0%} busy, {cpu['machine'] * 1000 / len(ids):.1f} ms/execution in all",
            flush=True,
        )
    return rate, cpu["busy"], cpu["machine"] * 1000 / len(ids)


def dbos_version() -> str | None:
    try:
        from importlib.metadata import version

        import dbos  # noqa: F401
    except ImportError:
        return None
    return version("dbos")


async def profile(args: argparse.Namespace) -> None:
    """Our side only, one measurement with one worker under cProfile; the worker's profile."""
    import pstats

    server = PostgresServer(args.postgres)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        pack_folder(folder)
        sys.path += [str(folder), str(BENCH)]
        args.profile_dir = temporary
        ours: OurSide | None = None
        try:
            ours = OurSide(await server.create("packflow_bench_queue_profile"), folder, args)
            await ours.open()
            rate, _, _ = await measure(ours, 1, args)
        finally:
            if ours is not None:
                await ours.close()
            await server.drop_all()
        print(f"profiled one worker: {rate:.1f} executions/s under the profiler (boot and shutdown included below)")
        stats = pstats.Stats(f"{temporary}/worker-0.prof")
        stats.sort_stats("tottime").print_stats(args.profile_lines)
        stats.sort_stats("cumulative").print_stats(args.profile_lines)


async def main(args: argparse.Namespace) -> None:
    began = time.perf_counter()
    counts = [int(part) for part in args.workers.split(",")]
    version = dbos_version()
    styles = ["sync", "async"] if args.dbos_style == "both" else [args.dbos_style]
    print(
        f"{STEPS}-step workflow; {args.executions} executions per measurement, {args.rounds} round(s); workers "
        f"{', '.join(map(str, counts))}; ours: SAQ on PostgreSQL, --concurrency {args.concurrency} per worker"
        + (f" ({' '.join(args.worker_env)})" if args.worker_env else "")
        + f"; DBOS {version or '(not installed)'}: worker_concurrency {args.dbos_concurrency}, "
        f"polling {args.dbos_polling:g}s, {args.dbos_style} workflows; {args.enqueuers} enqueuers",
        flush=True,
    )
    results: dict[tuple[str, int], list[float]] = {}
    busies: dict[tuple[str, int], list[float]] = {}
    costs: dict[tuple[str, int], list[float]] = {}
    last_round = began
    rounds_done = 0
    server = PostgresServer(args.postgres)
    ours: OurSide | None = None
    dbos_side: DbosSide | None = None
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        pack_folder(folder)
        for path in (str(folder), str(BENCH)):
            if path not in sys.path:
                sys.path.append(path)
        try:
            if not args.no_ours:
                ours = OurSide(await server.create("packflow_bench_queue"), folder, args)
                await ours.open()
            if version is None:
                print("skipping DBOS: dbos is not installed; .venv/bin/pip install dbos")
            elif not args.no_dbos:
                dbos_side = DbosSide(await server.create("packflow_bench_queue_dbos"), args)
                await dbos_side.open()
            sides: list[tuple[str, Side]] = [] if ours is None else [("ours", ours)]
            if dbos_side is not None:
                sides += [(f"dbos_{style}", dbos_side) for style in styles]
            for index in range(args.rounds):
                round_began = time.perf_counter()
                if index and (round_began - began) + (round_began - last_round) > args.budget:
                    print(f"  (stopping after {index} round(s): another would end past the {args.budget:g}s budget)")
                    break
                last_round = round_began
                rounds_done += 1
                for workers in counts:
                    for label, side in sides if index % 2 == 0 else reversed(sides):
                        if isinstance(side, DbosSide):
                            side.style = label.removeprefix("dbos_")
                        rate, busy, cost = await measure(side, workers, args)
                        results.setdefault((label, workers), []).append(rate)
                        busies.setdefault((label, workers), []).append(busy)
                        costs.setdefault((label, workers), []).append(cost)
        finally:
            if ours is not None:
                await ours.close()
            if dbos_side is not None:
                await dbos_side.close()
            await server.drop_all()

    medians = {key: statistics.median(values) for key, values in results.items()}
    labels = sorted({label for label, _ in medians}, key=lambda label: (label != "ours", label))
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(
        f"\nexecutions/s (median of {rounds_done} round(s)), {STEPS}-step workflow, PostgreSQL; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} (1 / 5 min):"
    )
    print(f"  {'workers':>7}  " + "  ".join(f"{label:>10}" for label in labels) + "  ours/best DBOS")
    ratios: list[tuple[str, float]] = []
    for workers in counts:
        cells = "  ".join(f"{medians[(label, workers)]:10.1f}" for label in labels)
        dbos_best = max((medians[(label, workers)] for label in labels if label.startswith("dbos")), default=None)
        ours_rate = medians.get(("ours", workers))
        ratio = None if dbos_best is None or ours_rate is None else ours_rate / dbos_best
        print(f"  {workers:>7}  {cells}  {'-' if ratio is None else f'{ratio:.3f}':>14}")
        if ratio is not None:
            ratios.append((f"queue_{workers}_worker{'s' if workers > 1 else ''}", ratio))
    if ("ours", 1) in medians and ("ours", 2) in medians:  # does a second worker add throughput?
        ratios.append(("queue_2_over_1_workers", medians[("ours", 2)] / medians[("ours", 1)]))
        busy = statistics.median(busies[("ours", 1)])
        if busy > 0:
            # One worker that keeps the machine this busy (itself, PostgreSQL, the enqueuer) leaves this much
            # room: however well a second one scales, 2 over 1 cannot go above it here.
            print(
                f"ours on 1 worker kept the machine {busy:.0%} busy: the most 2 workers can reach here is "
                f"{1 / busy:.2f} x 1 worker"
            )
        one, two = (statistics.median(costs[("ours", count)]) for count in (1, 2))
        if one > 0:
            # The same executions costing the whole machine more CPU on 2 workers than on 1 (more processes taking
            # turns on the same cores) lowers what 2 workers reach below that ceiling.
            print(
                f"ours cost the machine {one:.1f} ms of CPU per execution on 1 worker and {two:.1f} ms on 2 "
                f"({two / one - 1:+.0%}), every process counted"
            )
    elapsed = time.perf_counter() - began
    print(f"total wall time {elapsed:.1f}s (budget 300s){'  OVER BUDGET' if elapsed > 300 else ''}")
    if not ratios:
        print(f"ratios skipped: {', '.join(f'queue_{n}_worker' + ('s' if n > 1 else '') for n in counts)}")
    for name, value in ratios:
        print(f"RATIO {name} {value:.3f} goal {WORKERS_GOAL if name == 'queue_2_over_1_workers' else GOAL}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executions", type=int, default=500, help="executions enqueued per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per side and worker count")
    parser.add_argument("--workers", default="1,2", help="worker process counts, comma-separated")
    parser.add_argument("--concurrency", type=int, default=10, help="ours: executions per worker at once")
    parser.add_argument("--worker-env", action="append", default=[], help="ours: KEY=VALUE for the workers")
    parser.add_argument("--dbos-concurrency", type=int, default=10, help="DBOS: the queue's worker_concurrency")
    parser.add_argument("--dbos-polling", type=float, default=0.05, help="DBOS: the queue's polling_interval_sec")
    parser.add_argument("--dbos-style", choices=("sync", "async", "both"), default="sync")
    parser.add_argument("--enqueuers", type=int, default=8, help="concurrent enqueuing tasks / threads")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds between workers ready and enqueuing")
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-dbos", action="store_true")
    parser.add_argument("--no-ours", action="store_true", help="only DBOS (for tuning it)")
    parser.add_argument("--quiet", action="store_true", help="do not print every measurement")
    parser.add_argument("--budget", type=float, default=240.0, help="seconds: no round starts that would end past it")
    parser.add_argument("--profile", action="store_true", help="only ours, one worker under cProfile")
    parser.add_argument("--profile-lines", type=int, default=40)
    # Internal: this script as a DBOS worker process.
    parser.add_argument("--dbos-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dbos-setup", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--system-database-url", help=argparse.SUPPRESS)
    parser.add_argument("--executor-id", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    arguments.profile_dir = None
    if arguments.dbos_worker:
        dbos_worker(arguments)
    else:
        asyncio.run(profile(arguments) if arguments.profile else main(arguments))
