"""Queue adapters: how an execution id reaches a :class:`~packs.core.workflow.queue.worker.Worker`.

An adapter has one method, ``enqueue(execution_id, delay=0.0, key=None)``. ``key`` lets a queue
drop a delivery it already holds (the recovery sweep passes one); workers never rely on it, since
the lease makes a second delivery harmless. The in-process :class:`InlineAdapter` is here; the
distributed one (SAQ, on PostgreSQL or Redis) is wired by the application.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, runtime_checkable

from packs.core.workflow import settings
from packs.core.workflow.queue.worker import Worker


def start_key(execution_id: str) -> str:
    """The queue key of an execution's start delivery (also the recovery sweep's key of a pending execution)."""
    return f"start:{execution_id}"


@runtime_checkable
class QueueAdapter(Protocol):
    """Delivers execution ids to workers."""

    async def enqueue(self, execution_id: str, delay: float = 0.0, key: str | None = None) -> None: ...


class InlineAdapter:
    """Runs each delivery as an asyncio task of this process (at most ``concurrency`` at once).

    The embedded default: nothing to install or start. Executions survive a restart of the process
    through their checkpoints: the recovery sweep queues them again when it starts.
    """

    def __init__(self, worker: Worker, concurrency: int = 8, logger: logging.Logger | None = None) -> None:
        self.worker = worker
        self.concurrency = concurrency
        self.logger = logger or settings.defaults.logger
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._queued: set[str] = set()
        if worker.requeue is None:
            worker.requeue = lambda execution_id, delay: self.enqueue(execution_id, delay)

    async def enqueue(self, execution_id: str, delay: float = 0.0, key: str | None = None) -> None:
        """Start a task that runs the execution (after ``delay`` seconds); a key already queued is dropped."""
        if key is not None:
            if key in self._queued:
                return
            self._queued.add(key)
        task = asyncio.create_task(self._deliver(execution_id, delay, key), name=f"workflow-{execution_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, execution_id: str, delay: float, key: str | None) -> None:
        try:
            if delay > 0:
                await asyncio.sleep(delay)
            async with self._slots:
                await self.worker.process(execution_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.logger.exception("execution %s: the in-process worker failed", execution_id)
        finally:
            if key is not None:
                self._queued.discard(key)

    @property
    def busy(self) -> bool:
        """Whether any delivery is queued or running."""
        return bool(self._tasks)

    async def drain(self) -> None:
        """Wait until every delivery (including those they queue) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel every delivery still queued or running (their executions resume from their checkpoints)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
