"""The distributed queue: SAQ through litestar-saq, on PostgreSQL (the app's own database) or Redis.

With ``PACKFLOW_QUEUE=saq`` the app only enqueues; worker processes started with
``litestar workflows worker`` (on any number of machines) dequeue and run executions. A job carries
an execution id and nothing else: the database is the source of truth, and the worker's lease on
the execution (not the queue) guarantees one owner at a time, so a job delivered twice is harmless.
Jobs have no SAQ timeout (a workflow may run long; the lease tells a live worker from a dead one),
but a SAQ heartbeat: the job touches itself while it runs, so that SAQ's own sweep (run by every
live worker every ``PACKFLOW_SWEEP_SECONDS``) finishes the job of a worker that was killed as
``aborted`` instead of leaving it ``active`` forever; finished jobs are deleted after their TTL.
The execution itself is recovered by the workflow recovery sweep once its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from litestar_saq import SAQConfig, SAQPlugin
from litestar_saq.base import Worker as SAQWorker
from saq.types import Context, PartialTimersDict

from app import collector
from app.saq_postgres import PackflowQueueConfig

if TYPE_CHECKING:
    from saq.job import Job
    from saq.queue.base import Queue

    from packs.core.workflow import RecoverySweeper, Timer, TimerSweeper, Worker

DEFAULT_QUEUE_NAME = "packflow-workflows"
JOB_FUNCTION = "packflow_run_execution"
TIMERS_JOB_FUNCTION = "packflow_fire_timers"
"""The SAQ job scheduled at a durable timer's due time: the worker taking it fires what is due."""
TIMERS_KEY = "packflow_timers"
WORKER_KEY = "packflow_worker"

logger = logging.getLogger("packflow.queue")


JOB_TTL_SECONDS = 600
"""How long SAQ keeps a finished job (then its sweep deletes it)."""


def heartbeat_seconds(lease_seconds: float) -> int:
    """The SAQ heartbeat of a job: a job not touched for this long is stuck (its worker died) and swept."""
    return max(2, math.ceil(lease_seconds * 2))


@asynccontextmanager
async def touching(job: Job | None) -> AsyncIterator[None]:
    """Touch ``job`` (SAQ's manual heartbeat, ``job.update()``) four times per heartbeat while the block runs."""
    if job is None or not job.heartbeat:
        yield
        return
    interval = job.heartbeat / 4

    async def beat() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await job.update()
            except Exception:
                logger.warning("job %s: heartbeat failed; trying again in %.1fs", job.key, interval, exc_info=True)

    task = asyncio.create_task(beat(), name=f"saq-heartbeat-{job.key}")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_execution(ctx: Context, *, execution_id: str) -> None:
    """The SAQ job: run one execution on this worker process (claim, lease, engine), keeping the job alive."""
    shared = cast("dict[str, Any]", ctx)
    worker: Worker = shared[WORKER_KEY]
    async with touching(shared.get("job")):
        await worker.process(execution_id)


async def fire_timers(ctx: Context) -> None:
    """The SAQ job at a due time: wake this worker's timer sweep (it fires what is due, and runs what that woke)."""
    sweeper: TimerSweeper | None = cast("dict[str, Any]", ctx).get(TIMERS_KEY)
    if sweeper is not None:
        sweeper.wake()


class SAQAdapter:
    """Enqueues execution ids on the SAQ queue (connecting on first use)."""

    def __init__(self, plugin: SAQPlugin, name: str = DEFAULT_QUEUE_NAME, heartbeat: int = 60) -> None:
        self.plugin = plugin
        self.name = name
        self.heartbeat = heartbeat
        """The SAQ heartbeat of every job (see :func:`heartbeat_seconds`)."""
        self._connected = False
        self._lock = asyncio.Lock()

    @property
    def queue(self) -> Queue:
        """The SAQ queue of workflow executions."""
        return self.plugin.get_queue(self.name)

    async def connect(self) -> Queue:
        """The queue, connected."""
        if not self._connected:
            async with self._lock:
                if not self._connected:
                    await self.queue.connect()
                    self._connected = True
        return self.queue

    async def enqueue(self, execution_id: str, delay: float = 0.0, key: str | None = None) -> None:
        """Queue a job that runs ``execution_id`` (not before ``delay`` seconds); a queued ``key`` is not repeated."""
        queue = await self.connect()
        await queue.enqueue(
            JOB_FUNCTION,
            execution_id=execution_id,
            key=key or str(uuid.uuid4()),
            timeout=0,
            heartbeat=self.heartbeat,
            ttl=JOB_TTL_SECONDS,
            retries=1,
            scheduled=int(time.time() + delay) if delay > 0 else 0,
        )

    async def schedule_timers(self, timers: list[Timer]) -> None:
        """Queue a job at each of these timers' due times (SAQ's scheduled jobs, whole seconds, rounded up).

        One job per due second, whatever the number of timers due then (its key names the second: SAQ keeps
        one queued job per key), since the job only wakes a worker's sweep, which fires every timer due.
        """
        queue = await self.connect()
        for second in sorted({math.ceil(timer.due_at.timestamp()) for timer in timers}):
            await queue.enqueue(
                TIMERS_JOB_FUNCTION,
                key=f"timers:{self.name}:{second}",
                timeout=60,
                ttl=JOB_TTL_SECONDS,
                retries=1,
                scheduled=second,
            )

    async def disconnect(self) -> None:
        """Close the queue's connections."""
        if self._connected:
            await self.queue.disconnect()
            self._connected = False


SAQ_CONNECTION_OPTIONS = "-c synchronous_commit=off"
"""SAQ's PostgreSQL connections commit without waiting for the WAL flush (asynchronous commit).

A job's row is a delivery, not the execution's state: an execution is durable in its own row,
written by the store's connections with the server's ``synchronous_commit``. A PostgreSQL crash may
lose SAQ's last fraction of a second of writes, and nothing else: a lost job leaves its execution
``pending`` and the recovery sweep queues it again (``PACKFLOW_REQUEUE_PENDING_SECONDS``); a lost
``complete`` leaves a job ``active`` until SAQ's sweep aborts it, and a repeated delivery finds
the execution finished. Each job then costs no wait for a flush on its enqueue, its taking and its
two status changes: about a fifth of the flushes of a 10-step execution.
"""


def saq_plugin(queue_url: str, concurrency: int, name: str = DEFAULT_QUEUE_NAME) -> SAQPlugin:
    """litestar-saq's plugin with the one queue of workflow executions (``litestar workers run`` works too).

    On PostgreSQL the connection pool is built here without litestar-saq's check of every connection
    on checkout (a round trip per queue operation); a broken connection still fails the operation,
    and the job is delivered again. SAQ's statements do not wait for their WAL flush
    (:data:`SAQ_CONNECTION_OPTIONS`), and its sweep finishes a dead worker's jobs at once
    (:mod:`app.saq_postgres`).
    """
    broker: dict[str, Any] = {"dsn": queue_url}
    if queue_url.startswith("postgresql"):
        from psycopg_pool import AsyncConnectionPool

        kwargs = {"autocommit": True, "options": SAQ_CONNECTION_OPTIONS}
        broker = {
            "broker_instance": AsyncConnectionPool(queue_url, open=False, kwargs=kwargs),
            "broker_options": {"manage_pool_lifecycle": True},
        }
    return SAQPlugin(
        SAQConfig(
            queue_configs=[
                PackflowQueueConfig(
                    **broker,
                    name=name,
                    tasks=[(JOB_FUNCTION, run_execution), (TIMERS_JOB_FUNCTION, fire_timers)],
                    concurrency=concurrency,
                )
            ],
            use_server_lifespan=False,
        )
    )


def worker_hooks(
    worker: Worker, sweeper: RecoverySweeper, timers: TimerSweeper | None = None, *, gc_tuning: bool = True
) -> tuple[Any, Any]:
    """SAQ startup/shutdown hooks that give jobs the workflow worker and run the recovery and timer sweeps; with
    ``gc_tuning`` (``PACKFLOW_GC_TUNING``) the ready worker freezes what its startup built (:mod:`app.collector`)."""

    async def startup(ctx: Context) -> None:
        shared = cast("dict[str, Any]", ctx)
        shared[WORKER_KEY] = worker
        shared[TIMERS_KEY] = timers
        sweeper.start()
        if timers is not None:
            timers.start()
        if gc_tuning:
            collector.settle()
        logger.info("workflow worker %s ready", worker.owner)

    async def shutdown(ctx: Context) -> None:
        await sweeper.stop()
        if timers is not None:
            await timers.stop()
        if gc_tuning:
            collector.unsettle()

    return startup, shutdown


def build_worker(
    adapter: SAQAdapter,
    worker: Worker,
    sweeper: RecoverySweeper,
    concurrency: int,
    sweep_seconds: float = 5.0,
    timer_sweep: TimerSweeper | None = None,
    *,
    gc_tuning: bool = True,
) -> SAQWorker:
    """A litestar-saq worker on the workflow queue, running ``concurrency`` executions at once; SAQ's sweep
    (stuck jobs of dead workers, expired jobs) runs every ``sweep_seconds``; ``timer_sweep`` fires durable timers;
    ``gc_tuning``: see :func:`worker_hooks`."""
    startup, shutdown = worker_hooks(worker, sweeper, timer_sweep, gc_tuning=gc_tuning)
    if timer_sweep is not None:
        # What its timers wake, the worker runs itself (claim and lease as for a job), not one SAQ job each.
        timer_sweep.run_here(worker.process, concurrency, claim_for=(worker.owner, worker.lease_seconds))
    # SAQ's own defaults but the sweep (its typing asks for every timer).
    timers: PartialTimersDict = {
        "schedule": 1,
        "worker_info": 10,
        "abort": 1,
        "sweep": max(1, math.ceil(sweep_seconds)),
    }
    return SAQWorker(
        adapter.queue,
        functions=[(JOB_FUNCTION, run_execution), (TIMERS_JOB_FUNCTION, fire_timers)],
        concurrency=concurrency,
        startup=[startup],
        shutdown=[shutdown],
        timers=timers,
        enable_heartbeat_manager=False,
    )


async def run_worker(saq_worker: SAQWorker, stop: asyncio.Event) -> None:
    """Run ``saq_worker`` until ``stop`` is set, then stop it gracefully (leases are handed over)."""
    await saq_worker.queue.connect()
    task = asyncio.create_task(saq_worker.start())
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
    finally:
        await saq_worker.stop()
        for pending in (task, stopper):
            pending.cancel()
        await asyncio.gather(task, stopper, return_exceptions=True)
        await saq_worker.queue.disconnect()
