"""Durable timers: one table of every wake-up, fired exactly once (docs/workflow-language.md, Waits and durable timers).

The interface other features build on:

- :class:`Timer`: a row of ``workflow_timers``: ``kind`` (which handler fires it), ``due_at``,
  ``execution_id`` (optional; the timer goes when its execution is deleted), ``schedule_id``
  (optional), a JSON ``payload``, ``created_at`` and ``fired_at`` (``None`` until fired).
- :class:`TimerStore`: the methods the memory and SQL stores have beside their others.
  ``add_timer`` writes in the caller's unit when one is open, so a step's timer commits with the
  checkpoint that needs it (``await state.engine.store.add_timer(timer)`` inside a step);
  ``cancel_timers`` deletes an execution's unfired timers (of one kind when given);
  ``due_timers`` lists unfired timers due at a time (inside a unit on PostgreSQL it locks them,
  skipping rows another worker has locked); ``claim_timer`` is the compare-and-set that marks a
  timer fired: true for exactly one caller; ``timers_of`` lists an execution's unfired timers
  (what the API shows as due times); ``next_timer_due`` is the earliest unfired due time.
- :data:`timer_handlers`: the registry of handlers by kind. A handler is
  ``async def handler(timer: Timer, firing: Firing) -> None``; it runs inside the unit that
  claimed the timer (its writes through the store commit with the claim, or roll back with it when
  it raises: the timer then stays due and fires on a later sweep). It asks for an execution to be
  delivered to the queue after the commit with ``firing.deliver(execution_id)``; ``firing.store``
  and ``firing.now`` are the store and the firing time. Register with
  ``timer_handlers.register("my_kind", handler)``; a timer of an unknown kind is logged and left due.
  ``timer_handlers.register_batch(kind, handler)`` takes ``(timers, firing)``: every due timer of
  the kind in one sweep's batch at once (the ``wait`` kind wakes its executions in one statement).
- Stores may also have ``claim_due_timers(now, limit)`` (claim a batch in one statement),
  ``unclaim_timers(ids)``, ``wake_waiting(pairs, now)``, ``wake_and_claim_waiting(pairs, now, owner,
  lease_seconds)`` (wake and take the leases for a worker in one statement), ``extend_claim(claimed,
  lease_seconds)`` and ``purge_fired_timers(before, limit)``; the memory and SQL stores do.
- :func:`fire_due`: claims and fires the due timers (a batch, one unit) and answers what fired and
  which executions to deliver (some already claimed, with ``claim_for``); :class:`TimerSweeper` runs
  it every ``resolution`` seconds on each process that runs executions, and is woken early for a
  timer known to come due sooner (:func:`collecting` gathers the timers a block adds, for the
  queue's scheduled delivery). A SAQ worker's sweeper runs what it woke itself
  (:meth:`TimerSweeper.run_here`); every sweeper purges the timers fired longer ago than its
  ``retention``.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from packs.core.workflow import settings
from packs.core.workflow.gathering import Block, Gathering
from packs.core.workflow.model import new_id, utcnow

DEFAULT_RESOLUTION_SECONDS = 0.5
"""How often a process looks for due timers by default: a timer fires at most about this late with no load."""

DEFAULT_RETENTION_SECONDS = 3600.0
"""How long a fired timer's row is kept by default (for inspection) before a sweep purges it."""

PURGE_EVERY_SECONDS = 60.0
"""How often, at most, a sweeper purges the fired timers past their retention."""

WOKEN_AHEAD = 300
"""The most woken executions a worker's sweeper holds beyond those it runs (:meth:`TimerSweeper.run_here`)."""

AHEAD_SECONDS = 1.0
"""A worker's sweeper holds about this many seconds of runs ahead (by their mean duration so far)."""

PURGE_BATCH = 1000
"""Fired timers deleted per statement of a purge."""


@dataclass
class Timer:
    """One wake-up: fire the handler of ``kind`` at ``due_at`` (once)."""

    kind: str
    due_at: datetime.datetime
    execution_id: str | None = None
    schedule_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    created_at: datetime.datetime = field(default_factory=utcnow)
    fired_at: datetime.datetime | None = None


@runtime_checkable
class TimerStore(Protocol):
    """The timer methods of a store (every method is a coroutine)."""

    async def add_timer(self, timer: Timer) -> None: ...
    async def cancel_timers(self, execution_id: str, kind: str | None = None) -> int: ...
    async def due_timers(self, now: datetime.datetime, limit: int = 100) -> list[Timer]: ...
    async def claim_timer(self, timer_id: str, fired_at: datetime.datetime) -> bool: ...
    async def timers_of(self, execution_id: str) -> list[Timer]: ...
    async def next_timer_due(self) -> datetime.datetime | None: ...


ClaimFor = tuple[str, float]
"""``(owner, lease_seconds)``: the worker a firing may claim the executions it wakes for."""


@dataclass
class Firing:
    """What a handler is given beside its timer: the store, the firing time, and the deliveries to make.

    ``claim_for`` (a worker's owner name and lease) is set when the sweeper runs what it wakes in its own
    process: a handler may then take the woken executions' leases for that worker as it wakes them and hand
    them over claimed (``deliver(execution_id, claimed=execution)``); one that does not is claimed as usual.
    """

    store: Any
    now: datetime.datetime
    deliveries: list[str] = field(default_factory=list)
    claim_for: ClaimFor | None = None
    claimed: dict[str, Any] = field(default_factory=dict)
    """The executions a handler claimed for ``claim_for``, by id (as the claim read them)."""

    def deliver(self, execution_id: str, claimed: Any = None) -> None:
        """Have the queue deliver ``execution_id`` once the firing has committed (``claimed``: the execution as
        it was claimed for ``claim_for``)."""
        self.deliveries.append(execution_id)
        if claimed is not None:
            self.claimed[execution_id] = claimed


TimerHandler = Callable[[Timer, Firing], Awaitable[None]]
"""What fires a timer of one kind."""

BatchHandler = Callable[[list[Timer], Firing], Awaitable[None]]
"""What fires several due timers of one kind at once (fewer round trips than one call each)."""


class TimerHandlers:
    """The handlers of timers, by kind (one per kind; registering a kind again replaces its handler)."""

    def __init__(self) -> None:
        self._handlers: dict[str, TimerHandler] = {}
        self._batches: dict[str, BatchHandler] = {}

    def register(self, kind: str, handler: TimerHandler) -> TimerHandler:
        """Fire timers of ``kind`` with ``handler``; answers ``handler`` (usable as a decorator's body)."""
        self._handlers[kind] = handler
        return handler

    def register_batch(self, kind: str, handler: BatchHandler) -> BatchHandler:
        """Fire the due timers of ``kind`` of one sweep together with ``handler`` (it replaces a single handler)."""
        self._batches[kind] = handler
        return handler

    def get(self, kind: str) -> TimerHandler | None:
        """The handler of ``kind``, or ``None``."""
        return self._handlers.get(kind)

    def batch(self, kind: str) -> BatchHandler | None:
        """The batch handler of ``kind``, or ``None``."""
        return self._batches.get(kind)

    def handles(self, kind: str) -> bool:
        """Whether a handler (single or batch) fires ``kind``."""
        return kind in self._handlers or kind in self._batches

    def kinds(self) -> list[str]:
        """The registered kinds."""
        return sorted({*self._handlers, *self._batches})


timer_handlers = TimerHandlers()
"""The process's timer handlers (each feature registers its kind when its module is imported)."""


@dataclass(frozen=True)
class Fired:
    """What one :func:`fire_due` call did: the timers it fired and the executions to deliver."""

    timers: list[Timer]
    deliveries: list[str]
    claimed: dict[str, Any] = field(default_factory=dict)
    """The delivered executions a handler claimed for the firing's ``claim_for``, by id."""
    next_due: datetime.datetime | None = None
    """When nothing was due: the earliest due time of an unfired timer, as the probe read it (else ``None``)."""


async def fire_due(
    store: Any,
    *,
    now: datetime.datetime | None = None,
    limit: int = 100,
    handlers: TimerHandlers | None = None,
    logger: logging.Logger | None = None,
    claim_for: ClaimFor | None = None,
    probe: bool = True,
) -> Fired:
    """Claim and fire up to ``limit`` timers due at ``now`` (default: the clock's now), in one unit.

    With ``probe`` (the default) a store with ``next_timer_due`` is asked first, so that nothing is written
    when nothing is due; a caller that knows more are due (its last call fired ``limit``) skips that read.

    The batch is claimed at once (``claim_due_timers``, a compare-and-set per row) when the store can,
    else timer by timer. A kind's batch handler gets its timers together; other handlers one timer each.
    Each handler runs in a savepoint: one that raises undoes its own writes and its timers' claims, so
    they fire on a later call. The deliveries are for the caller to enqueue once this returns (the
    unit has committed); with ``claim_for`` (see :class:`Firing`) some may come claimed for that worker.
    """
    handlers = handlers or timer_handlers
    logger = logger or settings.defaults.logger
    moment = now or utcnow()
    fired: list[Timer] = []
    firing = Firing(store, moment, claim_for=claim_for)
    next_due = getattr(store, "next_timer_due", None)
    if probe and next_due is not None and ((upcoming := await next_due()) is None or upcoming > moment):
        return Fired(fired, [], next_due=upcoming)  # nothing due: no unit, no write (outside any unit: a read only)
    async with store.unit():
        claim_due = getattr(store, "claim_due_timers", None)
        if claim_due is not None:
            claimed: list[Timer] = await claim_due(moment, limit)
            await _release_unhandled(store, claimed, handlers, logger)
            claimed = [timer for timer in claimed if handlers.handles(timer.kind)]
        else:
            claimed = [timer for timer in await store.due_timers(moment, limit) if handlers.handles(timer.kind)]
        kinds: dict[str, list[Timer]] = {}
        for timer in claimed:
            kinds.setdefault(timer.kind, []).append(timer)
        for kind, timers in kinds.items():
            batch = handlers.batch(kind)
            groups = [timers] if batch is not None else [[timer] for timer in timers]
            for group in groups:
                if await _fire(store, group, firing, handlers, logger, claimed_already=claim_due is not None):
                    for timer in group:
                        timer.fired_at = moment
                    fired.extend(group)
    return Fired(fired, firing.deliveries, firing.claimed)


async def _release_unhandled(store: Any, claimed: list[Timer], handlers: TimerHandlers, logger: logging.Logger) -> None:
    """Give back the claims of timers no handler fires (a handler registered later fires them)."""
    unhandled = [timer for timer in claimed if not handlers.handles(timer.kind)]
    for timer in unhandled:
        logger.warning("timer %s: no handler for kind %r; it stays due", timer.id, timer.kind)
    if unhandled:
        await store.unclaim_timers([timer.id for timer in unhandled])


async def _fire(
    store: Any,
    group: list[Timer],
    firing: Firing,
    handlers: TimerHandlers,
    logger: logging.Logger,
    *,
    claimed_already: bool,
) -> bool:
    """Run the handler of ``group`` (one timer, or a kind's batch) in a savepoint; whether it fired."""
    kind = group[0].kind
    delivered = len(firing.deliveries)
    try:
        async with store.savepoint():
            if not claimed_already and not await store.claim_timer(group[0].id, firing.now):
                return False
            batch = handlers.batch(kind)
            if batch is not None:
                await batch(group, firing)
            else:
                handler = handlers.get(kind)
                assert handler is not None
                await handler(group[0], firing)
    except Exception:
        for execution_id in firing.deliveries[delivered:]:
            firing.claimed.pop(execution_id, None)  # its claim rolled back with the savepoint
        del firing.deliveries[delivered:]
        logger.exception("timer(s) %s (%s): the handler failed; they stay due", [t.id for t in group], kind)
        if claimed_already:
            await store.unclaim_timers([timer.id for timer in group])
        return False
    return True


_added: Gathering[Timer] = Gathering("workflow_timers_added")


def collecting() -> Block[Timer]:
    """Gather the timers added (through :func:`note_added`) by the block, e.g. a worker's run, to schedule their
    delivery once it has committed."""
    return _added.block()


def note_added(timer: Timer) -> None:
    """Tell the enclosing :func:`collecting` block (if any) that ``timer`` was added; stores call it."""
    _added.note(timer)


Deliver = Callable[[str], Awaitable[None]]
"""How a sweeper hands an execution to the queue."""

Run = Callable[[str, Any], Awaitable[object]]
"""How a sweeper runs an execution in its own process: ``run(execution_id, claimed)``, a worker's ``process``
(``claimed``: the execution as a handler claimed it for the worker, else ``None``)."""


class TimerSweeper:
    """Fires due timers every ``resolution`` seconds (and at once when :meth:`wake` is called) in a background task.

    Every process that runs executions runs one (the app with the in-process queue, each worker
    with SAQ); several firing together are safe, since a claim succeeds once. Its first sweep fires
    whatever came due while every process was down.

    By default what the timers woke goes to ``deliver`` (the queue). After :meth:`run_here` (a SAQ
    worker) the sweeper runs it in this process instead, ``concurrency`` at a time, each through the
    worker's claim and lease, and claims no more due timers than it has room for: several workers
    share a burst of due timers, and one that dies after claiming leaves executions ``pending``
    without a lease, which the recovery sweep of any live worker queues again.
    """

    def __init__(
        self,
        store: Any,
        deliver: Deliver,
        *,
        resolution: float = DEFAULT_RESOLUTION_SECONDS,
        batch: int = 500,
        deliveries: int = 16,
        handlers: TimerHandlers | None = None,
        logger: logging.Logger | None = None,
        retention: float | None = DEFAULT_RETENTION_SECONDS,
        purge_every: float = PURGE_EVERY_SECONDS,
    ) -> None:
        self.store = store
        self.deliver = deliver
        self.resolution = resolution
        self.batch = batch
        self.retention = retention
        """Seconds a fired timer's row is kept before :meth:`purge` deletes it (``None``: kept for ever)."""
        self.purge_every = purge_every
        """The running sweeper purges at most this often (its first sweep purges too)."""
        self._purged_at: float | None = None
        self.handlers = handlers
        self.logger = logger or settings.defaults.logger
        self._task: asyncio.Task[None] | None = None
        self._woken = asyncio.Event()
        self._delivering = asyncio.Semaphore(deliveries)
        """At most this many deliveries at once (each is a queue round trip)."""
        self._run: Run | None = None
        self._claim_for: ClaimFor | None = None
        self._running = asyncio.Semaphore(1)
        self._runs: set[asyncio.Task[None]] = set()
        self._concurrency = 0
        self._ahead: int | None = None
        self._mean_run: float | None = None
        """The mean duration of the runs started here so far, in seconds (a moving average)."""
        self._freed = asyncio.Event()
        self._sweeping = asyncio.Lock()
        self._next_due: datetime.datetime | None = None
        """The earliest due time the last sweep saw ahead (it found nothing due), or ``None``."""
        self._reserved = 0
        """Room taken by the claims under way (with :meth:`run_here`)."""

    def run_here(self, run: Run, concurrency: int, claim_for: ClaimFor | None = None, ahead: int | None = None) -> None:
        """Run what the timers wake with ``run`` (e.g. the worker's ``process``), ``concurrency`` at once.

        Beyond those running, the sweeper wakes ``ahead`` executions that wait for a free slot (so the next
        run is not a claim away when one ends, and a claim wakes many at once), and claims again once half
        of that room is free. By default ``ahead`` is about :data:`AHEAD_SECONDS` of runs at their mean
        duration so far, at least ``concurrency`` and at most :data:`WOKEN_AHEAD`: fast runs are claimed in
        large batches, slow ones leave the rest of a burst to other workers. With ``claim_for`` (the
        worker's owner and lease) handlers that can take the leases of what they wake as they wake it.
        """
        self._run = run
        self._claim_for = claim_for
        self._running = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._ahead = ahead

    @property
    def room(self) -> int:
        """How many woken executions this sweeper may hold at once, running or waiting (with :meth:`run_here`)."""
        if self._ahead is not None:
            return self._concurrency + max(self._concurrency, self._ahead)
        ahead = self._concurrency
        if self._mean_run is not None:
            per_second = self._concurrency / max(self._mean_run, 1e-3)
            ahead = max(ahead, min(WOKEN_AHEAD, int(per_second * AHEAD_SECONDS)))
        return self._concurrency + ahead

    @property
    def running(self) -> int:
        """Executions woken here and not finished yet (with :meth:`run_here`)."""
        return len(self._runs)

    async def sweep(self) -> list[Timer]:
        """Fire every timer due now (batch after batch) and deliver, or start, what they woke; the timers fired."""
        async with self._sweeping:
            if self._run is not None:
                return await self._sweep_running(self._run)
            fired: list[Timer] = []
            probe = True
            while True:
                result = await self._fire_batch(self.batch, probe)
                probe = False  # the loop goes on only after a full batch: more are likely due
                fired.extend(result.timers)
                woken = list(dict.fromkeys(result.deliveries))
                await asyncio.gather(*(self._deliver(execution_id) for execution_id in woken))
                if len(result.timers) < self.batch:
                    return fired

    async def _sweep_running(self, run: Run) -> list[Timer]:
        """:meth:`sweep` with :meth:`run_here`: claim as room frees and start what was woken. After a full first
        batch, on a store whose claims may run at once (``claims_in_parallel``), two claims overlap: one is
        under way while the runs of the other start (a claim's round trips, not the runs, bound a burst)."""
        fired: list[Timer] = []
        if not await self._claim_batch(run, fired, probe=True):
            return fired
        loops = 2 if getattr(self.store, "claims_in_parallel", False) else 1
        await asyncio.gather(*(self._claim_until_short(run, fired) for _ in range(loops)))
        return fired

    async def _claim_until_short(self, run: Run, fired: list[Timer]) -> None:
        while await self._claim_batch(run, fired, probe=False):
            pass

    async def _claim_batch(self, run: Run, fired: list[Timer], *, probe: bool) -> bool:
        """Claim as many due timers as there is room for and start what they woke; whether the batch was full."""
        limit = await self._wait_for_room()
        self._reserved += limit  # room taken until the claim answers: another claim sees the rest
        try:
            result = await self._fire_batch(limit, probe)
        finally:
            self._reserved -= limit
            self._freed.set()
        fired.extend(result.timers)
        for execution_id in dict.fromkeys(result.deliveries):
            self._start(run, execution_id, result.claimed.get(execution_id))
        return len(result.timers) >= limit

    async def _fire_batch(self, limit: int, probe: bool) -> Fired:
        result = await fire_due(
            self.store, limit=limit, handlers=self.handlers, logger=self.logger, claim_for=self._claim_for, probe=probe
        )
        self._next_due = result.next_due
        return result

    async def _wait_for_room(self) -> int:
        # Half the room free (or nothing running or being claimed): claims of many timers, not one per finished run.
        while (self._runs or self._reserved) and self._free() < self.room // 2:
            self._freed.clear()
            await self._freed.wait()
        return min(self.batch, self._free(), self.room // 2)  # half: another claim may take the other half

    def _free(self) -> int:
        return self.room - len(self._runs) - self._reserved

    def _start(self, run: Run, execution_id: str, claimed: Any) -> None:
        task = asyncio.create_task(self._run_one(run, execution_id, claimed), name=f"timer-woken-{execution_id}")
        self._runs.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._runs.discard(task)
        self._freed.set()

    async def _run_one(self, run: Run, execution_id: str, claimed: Any) -> None:
        try:
            await self._running.acquire()
        except asyncio.CancelledError:
            # Stopped before its turn: give its lease back, so another worker need not wait for it to expire.
            if claimed is not None and self._claim_for is not None:
                await asyncio.shield(self._hand_back(execution_id, self._claim_for[0]))
            raise
        began = time.monotonic()
        try:
            await run(execution_id, claimed)
            took = time.monotonic() - began
            self._mean_run = took if self._mean_run is None else 0.9 * self._mean_run + 0.1 * took
        except Exception:
            # The execution is pending in the database: the recovery sweep queues it again.
            self.logger.exception("execution %s: running it after its timer failed", execution_id)
        finally:
            self._running.release()

    async def _hand_back(self, execution_id: str, owner: str) -> None:
        try:
            await self.store.release(execution_id, owner)
        except Exception:
            # Its lease expires on its own; the recovery sweep queues it then.
            self.logger.exception("execution %s: giving its lease back failed", execution_id)

    async def _deliver(self, execution_id: str) -> None:
        async with self._delivering:
            try:
                await self.deliver(execution_id)
            except Exception:
                # The execution is pending in the database: the recovery sweep queues it again.
                self.logger.exception("execution %s: delivering it after its timer failed", execution_id)

    async def purge(self) -> int:
        """Delete the timers fired more than ``retention`` seconds ago (batch after batch); how many.

        Nothing reads a fired timer but people inspecting the table (an execution's unfired timers are its due
        times): without a purge the table would keep every wake-up ever fired.
        """
        purge = getattr(self.store, "purge_fired_timers", None)
        if self.retention is None or purge is None:
            return 0
        before = utcnow() - datetime.timedelta(seconds=self.retention)
        purged = 0
        while (count := await purge(before, PURGE_BATCH)) > 0:
            purged += count
            if count < PURGE_BATCH:
                break
        return purged

    async def tick(self) -> list[Timer]:
        """One turn of the running sweeper: :meth:`sweep`, then :meth:`purge` if ``purge_every`` has passed since
        the last (a failure of either is logged: the next tick tries again); the timers fired."""
        fired: list[Timer] = []
        try:
            fired = await self.sweep()
        except Exception:
            self.logger.exception("timer sweep failed; trying again in %.1fs", self.resolution)
        await self._purge_when_due()
        return fired

    async def _purge_when_due(self) -> None:
        now = time.monotonic()
        if self._purged_at is not None and now - self._purged_at < self.purge_every:
            return
        self._purged_at = now
        try:
            await self.purge()
        except Exception:
            self.logger.exception("purging the fired timers failed; trying again in %.0fs", self.purge_every)

    def wake(self) -> None:
        """Sweep now instead of at the next tick."""
        self._woken.set()

    async def wake_at(self, timers: list[Timer]) -> None:
        """Sweep at each of these timers' due times too (the in-process delivery at due time)."""
        loop = asyncio.get_running_loop()
        now = utcnow()
        for due in sorted({timer.due_at for timer in timers}):
            loop.call_later(max(0.0, (due - now).total_seconds()), self.wake)

    def start(self) -> None:
        """Sweep now and then every ``resolution`` seconds."""
        if self._task is None:
            self._task = asyncio.create_task(self._sweep_forever(), name="workflow-timer-sweep")

    async def stop(self) -> None:
        """Stop sweeping, and stop the runs it started (a worker's run hands its execution over when cancelled)."""
        tasks = [] if self._task is None else [self._task]
        self._task = None
        tasks += list(self._runs)
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise

    def pause(self) -> float:
        """Seconds until the next sweep: ``resolution``, or less when the last sweep saw a timer come due sooner
        (it fires on time instead of up to ``resolution`` late; timers added meanwhile by other processes are
        seen at the latest ``resolution`` later)."""
        if self._next_due is None:
            return self.resolution
        return max(0.0, min(self.resolution, (self._next_due - utcnow()).total_seconds()))

    async def _sweep_forever(self) -> None:
        while True:
            await self.tick()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.pause())
            self._woken.clear()
