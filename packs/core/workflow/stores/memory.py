"""The in-memory store: dictionaries of copies, for tests and scripts (the contract is in :mod:`.protocol`)."""

from __future__ import annotations

import copy
import datetime
from collections.abc import AsyncIterator, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

from packs.core.workflow.decisions import Decision
from packs.core.workflow.errors import LeaseLostError
from packs.core.workflow.model import Entry, Execution, Status, utcnow
from packs.core.workflow.stores.memory_signals import MemorySignals
from packs.core.workflow.stores.protocol import KEPT_BY_STORE, ExecutionFilter, Keyset, LeaseFence, Page, claimable
from packs.core.workflow.timers import Timer, note_added

if TYPE_CHECKING:
    from packs.core.workflow.language.definition import WorkflowDef


class MemoryStore(LeaseFence, MemorySignals):
    """Keeps everything in dictionaries (tests, scripts); copies on the way in and out."""

    serializes_branches = False
    """Parallel branches may call services at the same time (there is no shared session)."""

    def __init__(self) -> None:
        super().__init__()
        self._executions: dict[str, Execution] = {}
        self._entries: dict[str, list[Entry]] = {}
        self._definitions: dict[tuple[str, str], dict[str, Any]] = {}
        self._timers: dict[str, Timer] = {}
        self._decisions: list[Decision] = []

    async def load(self, execution_id: str) -> Execution | None:
        """The execution ``execution_id``, or ``None``."""
        found = self._executions.get(execution_id)
        return copy.deepcopy(found) if found is not None else None

    async def record(self, entry: Entry) -> None:
        """Append ``entry`` to its execution's entries."""
        self._entries.setdefault(entry.execution_id, []).append(copy.deepcopy(entry))

    async def entries(self, execution_id: str) -> list[Entry]:
        """The execution's entries, oldest first."""
        return copy.deepcopy(self._entries.get(execution_id, []))

    async def has_entries(self, execution_id: str) -> bool:
        """Whether the execution has recorded any entry."""
        return bool(self._entries.get(execution_id))

    async def find(
        self, workflow_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Execution]:
        """Executions matching the filters, newest first."""
        found = [
            execution
            for execution in self._executions.values()
            if (workflow_id is None or execution.workflow_id == workflow_id)
            and (status is None or execution.status == status)
        ]
        found.sort(key=lambda execution: execution.created_at, reverse=True)
        return copy.deepcopy(found[:limit])

    async def delete(self, execution_id: str) -> bool:
        """Delete the execution and its entries; ``True`` when it existed."""
        self._entries.pop(execution_id, None)
        self.drop_signals(execution_id)
        self._decisions = [d for d in self._decisions if d.execution_id != execution_id]
        for timer in [t for t in self._timers.values() if t.execution_id == execution_id]:
            del self._timers[timer.id]
        return self._executions.pop(execution_id, None) is not None

    async def execution_ids(self, workflow_id: str | None = None, limit: int = 1000) -> list[str]:
        """Ids of executions (of one workflow when given), newest first."""
        return [execution.id for execution in await self.find(workflow_id=workflow_id, limit=limit)]

    async def checkpoint(self, execution: Execution, entries: list[Entry]) -> None:
        """Save the execution and append the entries (:class:`LeaseLostError` when the lease was lost); the
        checkpoint that ends a run leased with ``release`` gives the lease up too."""
        owner = self.fenced_owner(execution.id)
        if owner is not None:
            stored = self._executions.get(execution.id)
            if stored is None or stored.lease_owner != owner:
                raise LeaseLostError(f"execution {execution.id}: the lease of {owner} was lost")
        for entry in entries:
            await self.record(entry)
        await self.save(execution)
        lease = self.releasing(execution)
        if lease is not None:  # the run ended: the lease goes with this write (see ``LeaseFence.leased``)
            stored = self._executions[execution.id]
            stored.lease_owner = stored.lease_expires_at = None
            lease.released = True

    async def save(self, execution: Execution) -> None:
        """Insert or replace ``execution``; ownership, attempts and the lease are the store's to keep."""
        stored = self._executions.get(execution.id)
        saved = copy.deepcopy(execution)
        if stored is not None:
            for name in ("created_at", *KEPT_BY_STORE):
                setattr(saved, name, getattr(stored, name))
        self._executions[execution.id] = saved

    # -- queued execution ---------------------------------------------------------------------

    async def add(self, execution: Execution) -> bool:
        """Insert ``execution`` unless its id exists; whether it was inserted."""
        if execution.id in self._executions:
            return False
        self._executions[execution.id] = copy.deepcopy(execution)
        return True

    async def claim(self, execution_id: str, owner: str, lease_seconds: float) -> Execution | None:
        """Take the lease of a claimable execution (counting an attempt); ``None`` when it is not claimable."""
        stored = self._executions.get(execution_id)
        now = utcnow()
        if stored is None or not claimable(stored, now):
            return None
        stored.lease_owner = owner
        stored.lease_expires_at = now + datetime.timedelta(seconds=lease_seconds)
        stored.attempts += 1
        return copy.deepcopy(stored)

    async def renew(self, execution_id: str, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s lease; ``False`` when ``owner`` does not hold it any more."""
        stored = self._executions.get(execution_id)
        if stored is None or stored.lease_owner != owner:
            return False
        stored.lease_expires_at = utcnow() + datetime.timedelta(seconds=lease_seconds)
        return True

    async def release(self, execution_id: str, owner: str, *, available_at: datetime.datetime | None = None) -> None:
        """Give the lease up (claimable again at ``available_at``, or at once)."""
        stored = self._executions.get(execution_id)
        if stored is not None and stored.lease_owner == owner:
            stored.lease_owner = None
            stored.lease_expires_at = available_at

    async def transition(self, execution: Execution, expected: Collection[str]) -> bool:
        """Save ``execution`` only if the stored status is in ``expected``; the lease is dropped, attempts reset."""
        stored = self._executions.get(execution.id)
        if stored is None or stored.status not in expected:
            return False
        saved = copy.deepcopy(execution)
        kept = ("created_at", "workflow_id", "input", "workspace_id", "created_by_id", "schedule_id")
        for name in (*kept, "definition_version", "definition_hash"):
            setattr(saved, name, getattr(stored, name))
        saved.attempts, saved.lease_owner, saved.lease_expires_at = 0, None, None
        self._executions[execution.id] = saved
        return True

    async def recoverable(self, now: datetime.datetime, limit: int = 100) -> list[Execution]:
        """Pending or running executions without a live lease, oldest first."""
        found = [e for e in self._executions.values() if claimable(e, now)]
        found.sort(key=lambda execution: execution.updated_at)
        return copy.deepcopy(found[:limit])

    async def page(
        self,
        where: ExecutionFilter,
        offset: int = 0,
        limit: int = 25,
        *,
        after: Keyset | None = None,
        count: bool = True,
        ctx_keys: Collection[str] | None = None,
        oldest_first: bool = False,
    ) -> Page:
        """Executions matching ``where``, newest first or ``oldest_first`` (whole contexts, whatever ``ctx_keys``)."""
        kinds = where.waiting_kinds()
        found = [
            execution
            for execution in self._executions.values()
            if (where.workflow_id is None or execution.workflow_id == where.workflow_id)
            and (where.status is None or execution.status == where.status)
            and (where.workspace_id is None or execution.workspace_id == where.workspace_id)
            and (where.schedule_id is None or execution.schedule_id == where.schedule_id)
            and (kinds is None or _waits_for(execution, kinds))
        ]
        found.sort(key=lambda execution: (execution.created_at, execution.id), reverse=not oldest_first)
        total = len(found) if count else None
        if after is not None:
            found = [
                e for e in found if ((e.created_at, e.id) > after if oldest_first else (e.created_at, e.id) < after)
            ]
        return Page(copy.deepcopy(found[offset : offset + limit]), total)

    async def count_by_status(
        self,
        where: ExecutionFilter,
        *,
        created_after: datetime.datetime | None = None,
        created_before: datetime.datetime | None = None,
        cap: int | None = None,
    ) -> dict[str, int]:
        """How many executions matching ``where`` (created at or after ``created_after``, before
        ``created_before``) have each status; a status none has is absent; with ``cap``, a count over ``cap``
        is ``cap + 1``."""
        page = await self.page(where, limit=len(self._executions), count=False, ctx_keys=())
        counts: dict[str, int] = {}
        for execution in page.executions:
            if created_after is not None and execution.created_at < created_after:
                continue
            if created_before is not None and execution.created_at >= created_before:
                continue
            counts[str(execution.status)] = counts.get(str(execution.status), 0) + 1
        return counts if cap is None else {status: min(number, cap + 1) for status, number in counts.items()}

    async def save_definition(self, definition: WorkflowDef) -> None:
        """Keep the document of ``definition`` under its content hash."""
        self._definitions.setdefault((definition.id, definition.content_hash), copy.deepcopy(definition.raw))

    async def definition_source(self, workflow_id: str, content_hash: str) -> dict[str, Any] | None:
        """The document kept for ``workflow_id`` with ``content_hash``, or ``None``."""
        found = self._definitions.get((workflow_id, content_hash))
        return copy.deepcopy(found) if found is not None else None

    # -- durable timers (packs.core.workflow.timers) ------------------------------------------------

    async def add_timer(self, timer: Timer) -> None:
        """Keep ``timer`` (its id must be new)."""
        if timer.id in self._timers:
            raise ValueError(f"timer {timer.id} exists already")
        self._timers[timer.id] = copy.deepcopy(timer)
        note_added(timer)

    async def cancel_timers(self, execution_id: str, kind: str | None = None) -> int:
        """Delete the execution's unfired timers (of ``kind`` when given); how many."""
        cancelled = [
            t.id
            for t in self._timers.values()
            if t.execution_id == execution_id and t.fired_at is None and (kind is None or t.kind == kind)
        ]
        for timer_id in cancelled:
            del self._timers[timer_id]
        return len(cancelled)

    async def due_timers(self, now: datetime.datetime, limit: int = 100) -> list[Timer]:
        """Unfired timers due at ``now``, earliest first."""
        due = sorted((t for t in self._timers.values() if t.fired_at is None and t.due_at <= now), key=_due_order)
        return copy.deepcopy(due[:limit])

    async def claim_timer(self, timer_id: str, fired_at: datetime.datetime) -> bool:
        """Mark the timer fired unless it was already (or is gone); whether this call did."""
        timer = self._timers.get(timer_id)
        if timer is None or timer.fired_at is not None:
            return False
        timer.fired_at = fired_at
        return True

    async def claim_due_timers(self, now: datetime.datetime, limit: int = 100) -> list[Timer]:
        """Mark up to ``limit`` unfired timers due at ``now`` fired; the timers this call took."""
        claimed = []
        for timer in await self.due_timers(now, limit):
            if await self.claim_timer(timer.id, now):
                timer.fired_at = now
                claimed.append(timer)
        return claimed

    async def unclaim_timers(self, timer_ids: list[str]) -> None:
        """Make these timers unfired again."""
        for timer_id in timer_ids:
            if timer_id in self._timers:
                self._timers[timer_id].fired_at = None

    async def wake_waiting(self, waits: list[tuple[str, str]], now: datetime.datetime) -> list[str]:
        """Queue the executions that still halt at these ``(execution_id, timer_id)`` waits; those it changed."""
        return [execution.id for execution in self._wake(waits, now, None, None)]

    async def wake_and_claim_waiting(
        self, waits: list[tuple[str, str]], now: datetime.datetime, owner: str, lease_seconds: float
    ) -> list[Execution]:
        """:meth:`wake_waiting`, taking each woken execution's lease for ``owner``; copies of them as claimed."""
        expires = now + datetime.timedelta(seconds=lease_seconds)
        return [copy.deepcopy(execution) for execution in self._wake(waits, now, owner, expires)]

    async def extend_claim(self, claimed: Execution, lease_seconds: float) -> bool:
        """Extend the lease ``claimed`` was read with if nobody claimed the execution since; whether it did."""
        stored = self._executions.get(claimed.id)
        if stored is None or stored.status != Status.PENDING:
            return False
        if (stored.lease_owner, stored.lease_expires_at) != (claimed.lease_owner, claimed.lease_expires_at):
            return False
        stored.lease_expires_at = utcnow() + datetime.timedelta(seconds=lease_seconds)
        return True

    def _wake(
        self, waits: list[tuple[str, str]], now: datetime.datetime, owner: str | None, expires: datetime.datetime | None
    ) -> list[Execution]:
        woken = []
        for execution_id, timer_id in waits:
            stored = self._executions.get(execution_id)
            if stored is None or stored.status != Status.HALTED or (stored.halt_data or {}).get("timer_id") != timer_id:
                continue
            stored.status = Status.PENDING
            stored.current_step = stored.recover_to or stored.current_step
            stored.recover_to, stored.halt_data, stored.updated_at = None, None, now
            stored.attempts, stored.lease_owner, stored.lease_expires_at = (0 if owner is None else 1), owner, expires
            woken.append(stored)
        return woken

    async def purge_fired_timers(self, before: datetime.datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` timers fired before ``before``, oldest first; how many."""
        fired = sorted(
            (t for t in self._timers.values() if t.fired_at is not None and t.fired_at < before),
            key=lambda t: t.fired_at or before,
        )[:limit]
        for timer in fired:
            del self._timers[timer.id]
        return len(fired)

    async def timers_of(self, execution_id: str) -> list[Timer]:
        """The execution's unfired timers, earliest first."""
        found = sorted(
            (t for t in self._timers.values() if t.execution_id == execution_id and t.fired_at is None), key=_due_order
        )
        return copy.deepcopy(found)

    async def next_timer_due(self) -> datetime.datetime | None:
        """The earliest due time of an unfired timer, or ``None``."""
        return min((t.due_at for t in self._timers.values() if t.fired_at is None), default=None)

    # -- approval decisions (packs.core.workflow.decisions) -----------------------------------------

    async def add_decision(self, decision: Decision) -> None:
        """Keep ``decision``; :class:`ValueError` when its user already decided on its halt."""
        if decision.user_id is not None and any(
            d.halt_id == decision.halt_id and d.user_id == decision.user_id for d in self._decisions
        ):
            raise ValueError(f"user {decision.user_id} already decided on halt {decision.halt_id}")
        self._decisions.append(copy.deepcopy(decision))

    async def decisions(self, halt_id: str) -> list[Decision]:
        """The decisions on the halt ``halt_id``, oldest first."""
        return copy.deepcopy([d for d in self._decisions if d.halt_id == halt_id])

    async def execution_decisions(self, execution_id: str) -> list[Decision]:
        """Every decision recorded on the execution ``execution_id``, oldest first."""
        return copy.deepcopy([d for d in self._decisions if d.execution_id == execution_id])

    async def decisions_of_halts(self, halt_ids: Collection[str]) -> dict[str, list[Decision]]:
        """The decisions on each of these halts, oldest first (a halt without any: an empty list)."""
        return {halt: await self.decisions(halt) for halt in halt_ids}

    def unit(self) -> AbstractAsyncContextManager[None]:
        """Nothing to open: memory writes are immediate."""
        return _nothing()

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Nothing to undo in memory."""
        return _nothing()


def _waits_for(execution: Execution, kinds: tuple[str, ...]) -> bool:
    halt = execution.halt_data or {}
    return execution.status == Status.HALTED and halt.get("type") in kinds


def _due_order(timer: Timer) -> tuple[datetime.datetime, str]:
    return (timer.due_at, timer.id)


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield
