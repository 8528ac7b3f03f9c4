"""The recovery sweep: queue again the executions whose worker died (their lease expired).

Every worker process (and, with the in-process adapter, the app) runs a sweep every few seconds.
It asks the store for pending or running executions that no live lease covers and enqueues each
with a key naming the execution and its attempt count, so that sweeps of several workers queue one
delivery per attempt. A crashed execution is queued again only after the backoff of its attempts.
Pending executions are queued again once they have waited longer than ``stale_after`` (their
delivery was lost, e.g. a worker died between taking the job and claiming the execution) and, when
the queue is not durable (the in-process one), at once by the first sweep of a process: a restarted
app resumes what it was running. A pending execution is queued again under the key of its start
delivery: a queue that still holds that job, queued behind a backlog or taken by a worker, drops the
new one instead of delivering the execution twice (a job taken by a worker that died is finished by
the queue's own sweep a heartbeat later, and the next recovery sweep queues the execution then).
"""

from __future__ import annotations

import asyncio
import datetime
import logging

from packs.core.workflow import settings
from packs.core.workflow.model import Execution, Status, utcnow
from packs.core.workflow.queue.adapters import QueueAdapter, start_key
from packs.core.workflow.queue.worker import RetryPolicy, stop_task
from packs.core.workflow.stores.protocol import QueueStore


class RecoverySweeper:
    """Finds executions without a live lease and puts them back on the queue."""

    def __init__(
        self,
        store: QueueStore,
        adapter: QueueAdapter,
        *,
        retry: RetryPolicy | None = None,
        interval: float = 5.0,
        stale_after: float = 30.0,
        durable_queue: bool = False,
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.adapter = adapter
        self.retry = retry or RetryPolicy()
        self.interval = interval
        self.stale_after = stale_after
        self.durable_queue = durable_queue
        """True when the queue keeps its jobs across restarts (SAQ): a pending execution's job is then still
        queued when a process starts, and only stale pending executions are queued again."""
        self.logger = logger or settings.defaults.logger
        self._task: asyncio.Task[None] | None = None

    def due(self, execution: Execution, now: datetime.datetime, first_sweep: bool) -> bool:
        """Whether the sweep queues ``execution`` again now."""
        if execution.status == Status.RUNNING and execution.lease_expires_at is not None:
            backoff = datetime.timedelta(seconds=self.retry.delay(execution.attempts))
            return execution.lease_expires_at + backoff <= now
        if first_sweep and not self.durable_queue:
            return True
        return execution.updated_at + datetime.timedelta(seconds=self.stale_after) <= now

    @staticmethod
    def key(execution: Execution) -> str:
        """The queue key of the delivery that recovers ``execution``.

        A pending execution's outstanding delivery is its start (:func:`start_key`): a queue that still
        holds that job, queued or running, drops this one, so a backlog older than ``stale_after`` is not
        delivered twice. A crashed execution is queued once per attempt.
        """
        if execution.status == Status.PENDING:
            return start_key(execution.id)
        return f"recover:{execution.id}:{execution.attempts}"

    async def sweep(self, first_sweep: bool = False, limit: int = 500) -> list[str]:
        """Queue every execution that is due; their ids."""
        now = utcnow()
        queued = []
        for execution in await self.store.recoverable(now, limit=limit):
            if self.due(execution, now, first_sweep):
                await self.adapter.enqueue(execution.id, key=self.key(execution))
                queued.append(execution.id)
        if queued:
            self.logger.info("recovery sweep queued %d execution(s) again", len(queued))
        return queued

    def start(self) -> None:
        """Sweep now and then every ``interval`` seconds, in a background task."""
        if self._task is None:
            self._task = asyncio.create_task(self._sweep_forever(), name="workflow-recovery-sweep")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    async def _sweep_forever(self) -> None:
        first = True
        while True:
            try:
                await self.sweep(first_sweep=first)
                first = False
            except Exception:
                self.logger.exception("recovery sweep failed; trying again in %.1fs", self.interval)
            await asyncio.sleep(self.interval)
