"""Workers: claim a queued execution with a lease, run it, keep the lease alive, retry with backoff.

A queue delivers execution ids; any number of workers in any number of processes call
:meth:`Worker.process` with them. The database decides who runs what:

- ``claim`` takes the execution's lease (owner + expiry) only if nobody holds a live one, so a job
  delivered twice runs once;
- while the run goes on, a :class:`LeaseKeeper` renews the lease; if renewing fails (another worker
  took over after an expiry, or the execution was cancelled) the engine stops before its next step;
- every checkpoint is fenced on the lease: a worker that lost it writes nothing more, and the step
  it was running is rolled back with everything it wrote to this database;
- a worker that dies leaves a lease that expires; a recovery sweep (:mod:`.recovery`) queues the
  execution again and another worker continues it from its last checkpoint;
- the checkpoint that ends the run (``completed``, ``failed``, ``halted``) gives the lease up in the same
  UPDATE, guarded as ``release`` is (only while this worker holds it); a run that stops short of that
  releases it with a statement of its own;
- an attempt that ends in an error outside any step (the database went away, a definition is
  missing) releases the lease and is retried after a backoff; an execution claimed more than
  ``max_attempts`` times without finishing is ``failed``.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

from packs.core.workflow import settings
from packs.core.workflow.engine import Engine
from packs.core.workflow.errors import LeaseLostError
from packs.core.workflow.model import Execution, ExecutionResult, Status, utcnow
from packs.core.workflow.queue.catalog import DefinitionCatalog
from packs.core.workflow.steps import workflow_parent
from packs.core.workflow.stores.protocol import Lease, QueueStore
from packs.core.workflow.timers import Timer, collecting

Requeue = Callable[[str, float], Awaitable[None]]
"""How a worker puts an execution back on its queue: ``requeue(execution_id, delay_seconds)``."""

TimersAdded = Callable[[list[Timer]], Awaitable[None]]
"""What a worker tells about the durable timers a run added, once it has committed them (their delivery)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often an execution is attempted and how long to wait between attempts."""

    max_attempts: int = 5
    """Claims of one execution (since it was last queued) before it is given up as ``failed``."""
    backoff_seconds: float = 1.0
    """Wait after the first failed attempt."""
    backoff_factor: float = 2.0
    """Each further wait is this many times the previous one."""
    max_backoff_seconds: float = 300.0
    """No wait is longer than this."""

    def delay(self, attempts: int) -> float:
        """Seconds to wait after ``attempts`` failed attempts."""
        if attempts <= 0:
            return 0.0
        return float(min(self.max_backoff_seconds, self.backoff_seconds * self.backoff_factor ** (attempts - 1)))


async def stop_task(task: asyncio.Task[None]) -> None:
    """Cancel a background ``task`` and wait for it; a cancellation of the caller itself still propagates."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


def worker_name() -> str:
    """A name unique to this worker: host, process id and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def died_here(owner: str) -> bool:
    """Whether ``owner`` (a :func:`worker_name`) was a process of this machine that no longer runs."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or parts[0] != socket.gethostname():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False  # it runs (as another user), or the number is no process id
    return False


class LeaseKeeper:
    """Renews a lease in the background; :attr:`lost` once it cannot be renewed (:attr:`lease` given up by the
    run's last checkpoint is not lost: the keeper just stops).

    The renewing task starts only when the first renewal is due (a third of the lease in): a run that ends
    sooner, as most do, costs a timer handle instead of a task started and cancelled.
    """

    def __init__(
        self, store: QueueStore, execution_id: str, owner: str, lease_seconds: float, logger: logging.Logger
    ) -> None:
        self.store = store
        self.execution_id = execution_id
        self.owner = owner
        self.lease_seconds = lease_seconds
        self.logger = logger
        self.lost = False
        self.lease: Lease | None = None
        """The run's lease as its checkpoints see it, when set: once :attr:`Lease.released`, nothing to renew."""
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._due: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> LeaseKeeper:
        self._due = asyncio.get_running_loop().call_later(self.lease_seconds / 3, self._start)
        return self

    def _start(self) -> None:
        self._due = None
        self._task = asyncio.create_task(self._renew_until_cancelled(), name=f"lease-{self.execution_id}")

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._due is not None:
            self._due.cancel()
            self._due = None
        if self._task is not None:
            self._stopping = True
            await stop_task(self._task)

    def is_lost(self) -> bool:
        """Whether the lease is gone (the engine's ``should_stop``)."""
        return self.lost

    def _released(self) -> bool:
        return self.lease is not None and self.lease.released

    async def _renew_until_cancelled(self) -> None:
        interval = self.lease_seconds / 3
        renewed = time.monotonic() - interval  # started when the first renewal is due
        first = True
        while not self.lost:
            if not first:
                await asyncio.sleep(interval)
            first = False
            try:
                if self._released():
                    return
                if not await self.store.renew(self.execution_id, self.owner, self.lease_seconds):
                    if self._released():  # the run's last checkpoint gave it up meanwhile
                        return
                    self.lost = True
                else:
                    renewed = time.monotonic()
            except Exception:
                if self._stopping:
                    # Cancelled mid-renewal, and the store's cleanup raised instead of the cancellation:
                    # stop anyway (looping on would renew the lease after the run, and never end).
                    return
                self.logger.exception("execution %s: renewing the lease failed", self.execution_id)
                if time.monotonic() - renewed >= self.lease_seconds:
                    self.lost = True
        self.logger.warning(
            "execution %s: lease lost by %s; stopping before the next step", self.execution_id, self.owner
        )


class Worker:
    """Runs queued executions: one claim, one lease, one engine run per :meth:`process` call."""

    def __init__(
        self,
        store: QueueStore,
        catalog: DefinitionCatalog | None = None,
        *,
        service_resolver: settings.ServiceResolver | None = None,
        owner: str | None = None,
        lease_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        requeue: Requeue | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog or DefinitionCatalog(store)
        self.service_resolver = service_resolver
        self.owner = owner or worker_name()
        self.lease_seconds = lease_seconds
        self.retry = retry or RetryPolicy()
        self.requeue = requeue
        self.logger = logger or settings.defaults.logger
        self.timers_added: TimersAdded | None = None
        """Called with the timers a run added (e.g. to schedule a queue job at each due time), when set."""

    def _fresh(self, claimed: Execution) -> bool:
        """Whether the lease ``claimed`` was read with has at least half a lease left."""
        expires = claimed.lease_expires_at
        return expires is not None and expires - utcnow() >= datetime.timedelta(seconds=self.lease_seconds / 2)

    async def process(self, execution_id: str, claimed: Execution | None = None) -> ExecutionResult | None:
        """Claim and run ``execution_id``; ``None`` when it was not claimable or the attempt did not finish it.

        ``claimed``: the execution as already claimed for this worker (a timer sweep wakes and claims in one
        statement): run without a claim of its own. With less than half of that lease left, it is first
        extended, only if nobody claimed the execution since (``extend_claim``, a compare-and-set on the
        expiry that claim wrote: another worker, or a job of this one, may have taken it over); else the
        execution is claimed as usual.
        """
        if claimed is not None and claimed.lease_owner == self.owner and not self._fresh(claimed):
            extend = getattr(self.store, "extend_claim", None)
            kept = extend is not None and await extend(claimed, self.lease_seconds)
            claimed = claimed if kept else None
        if claimed is None or claimed.lease_owner != self.owner:
            claimed = await self.store.claim(execution_id, self.owner, self.lease_seconds)
        if claimed is None:
            self.logger.debug(
                "execution %s: not claimable by %s (finished, leased or unknown)", execution_id, self.owner
            )
            return None
        if claimed.attempts > self.retry.max_attempts:
            return await self._give_up(claimed)
        try:
            definition = await self.catalog.for_execution(claimed)
            engine = Engine(definition, self.store, self.service_resolver, logger=self.logger)
            async with LeaseKeeper(self.store, execution_id, self.owner, self.lease_seconds, self.logger) as keeper:
                engine.should_stop = keeper.is_lost
                with (
                    self.store.leased(execution_id, self.owner, release=True) as lease,
                    collecting() as added_timers,
                    workflow_parent.collecting(fresh=True) as woken,
                ):
                    keeper.lease = lease
                    result = await engine.recover(execution_id, loaded=claimed)
        except LeaseLostError as lost:
            self.logger.info("execution %s: %s", execution_id, lost)
            return None
        except asyncio.CancelledError:
            # Shutting down: hand the execution over at once instead of after the lease expires.
            await asyncio.shield(self._release(execution_id, 0.0, requeue=False))
            raise
        except Exception:
            delay = self.retry.delay(claimed.attempts)
            self.logger.exception(
                "execution %s: attempt %d failed outside any step; retrying in %.1fs",
                execution_id,
                claimed.attempts,
                delay,
            )
            await self._release(execution_id, delay)
            return None
        if not lease.released:  # no checkpoint of this run ended it (e.g. it found the execution ended already)
            await self.store.release(execution_id, self.owner)
        await self._deliver_parents(woken or [])
        if added_timers and self.timers_added is not None:
            try:
                await self.timers_added(added_timers)
            except Exception:
                # The timer sweep of every worker fires them anyway.
                self.logger.exception("execution %s: scheduling the delivery of its timers failed", execution_id)
        return result

    async def _deliver_parents(self, woken: list[str]) -> None:
        """Queue the parents whose sub-workflow child this run ended (docs/workflow-language.md, step type
        ``workflow``); a delivery that fails is left to the recovery sweep (the parent is pending)."""
        for parent_id in woken:
            if self.requeue is None:
                self.logger.info("execution %s: its child ended; queued for the recovery sweep", parent_id)
                continue
            try:
                await self.requeue(parent_id, 0.0)
            except Exception:
                self.logger.exception("execution %s: delivering it after its child ended failed", parent_id)

    async def _release(self, execution_id: str, delay: float, requeue: bool = True) -> None:
        """Give the lease up, claimable again after ``delay``, and ask the queue to deliver it then."""
        try:
            await self.store.release(
                execution_id, self.owner, available_at=utcnow() + datetime.timedelta(seconds=delay)
            )
            if requeue and self.requeue is not None:
                await self.requeue(execution_id, delay)
        except Exception:
            # The lease expires on its own; the recovery sweep queues the execution again.
            self.logger.exception("execution %s: releasing the lease failed", execution_id)

    async def _give_up(self, execution: Execution) -> ExecutionResult:
        """Mark an execution that used up its attempts ``failed``."""
        attempts = execution.attempts - 1
        execution.status = Status.FAILED
        execution.error = (
            f"gave up after {attempts} attempts: each ended before the execution finished "
            "(a worker died or hit an error outside any step; see the workers' logs)"
        )
        execution.updated_at = utcnow()
        with (
            self.store.leased(execution.id, self.owner, release=True) as lease,
            workflow_parent.collecting(fresh=True) as woken,
        ):
            await workflow_parent.checkpoint_end(self.store, execution, [])
        if not lease.released:
            await self.store.release(execution.id, self.owner)
        await self._deliver_parents(woken or [])
        self.logger.error("execution %s: %s", execution.id, execution.error)
        return ExecutionResult.of(execution)
