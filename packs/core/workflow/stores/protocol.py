"""The store contract (:class:`Store`, :class:`QueueStore`) and what every store shares.

The in-memory store is in :mod:`packs.core.workflow.stores.memory`, the SQL store in
:mod:`packs.core.workflow.stores.sql`.

A store keeps executions and their entries. Besides the minimum of docs/workflow-language.md,
section 1 (``save``, ``load``, ``record``, ``entries``, ``find``, ``delete``, ``execution_ids``), a
store offers:

- ``checkpoint(execution, entries)``: save the execution and append the entries atomically (one
  commit); the engine calls it once per step boundary.
- ``unit()``: an async context manager around one step; whatever the step's services write
  through the store's transaction commits together with the checkpoint made inside it, and is
  rolled back if the block raises before the checkpoint. (A store may commit a checkpoint at once
  when nothing else was written in the unit: the engine does nothing after a step's checkpoint.)
- ``savepoint()``: an async context manager inside ``unit()`` that undoes only its own writes when
  it raises (used around each attempt of a retried ``call``).
- ``has_entries(execution_id)``: whether any entry was recorded, without reading them (recovering
  a workflow that never reads ``$history`` needs only that; without it the engine reads them all).
- ``serializes_branches``: true when a unit is one database session, which parallel branches'
  calls must then take turns to use.

Queued execution needs more (:class:`QueueStore`, which the memory and SQL stores implement): ``add`` (insert
only), leases (``claim`` / ``renew`` / ``release``, and ``leased()`` which fences the checkpoints
of a block on the lease: a checkpoint made after the lease was lost raises
:class:`~packs.core.workflow.errors.LeaseLostError` and writes nothing), compare-and-set
``transition`` (cancel, queued resume, redrive), ``recoverable`` (what a recovery sweep re-queues),
``page`` (listing with ownership filters) and definition snapshots.
"""

from __future__ import annotations

import datetime
import weakref
from collections.abc import Collection, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from packs.core.workflow.model import Entry, Execution, Status

if TYPE_CHECKING:
    from packs.core.workflow.language.definition import WorkflowDef


@runtime_checkable
class Store(Protocol):
    """What the engine needs from a store (every method is a coroutine)."""

    async def save(self, execution: Execution) -> None: ...
    async def load(self, execution_id: str) -> Execution | None: ...
    async def record(self, entry: Entry) -> None: ...
    async def entries(self, execution_id: str) -> list[Entry]: ...
    async def find(
        self, workflow_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Execution]: ...
    async def delete(self, execution_id: str) -> bool: ...
    async def execution_ids(self, workflow_id: str | None = None, limit: int = 1000) -> list[str]: ...
    async def checkpoint(self, execution: Execution, entries: list[Entry]) -> None: ...
    def unit(self) -> AbstractAsyncContextManager[None]: ...
    def savepoint(self) -> AbstractAsyncContextManager[None]: ...


@dataclass(frozen=True)
class Page:
    """One page of executions and how many match in all (``None`` when the page was asked without a count)."""

    executions: list[Execution]
    total: int | None


Keyset = tuple[datetime.datetime, str]
"""Where a page by keyset starts: after the execution of this ``(created_at, id)``, newest first."""


@dataclass(frozen=True)
class MayDecide:
    """A user asking for the approvals they may decide (the approvals inbox): their id, email and role in the
    workspace listed. A store may leave out the executions whose approval this user surely may not decide (the
    SQL store does, from the rule the approval step resolved: approvers by user id, email or role, the requester
    excluded, a decision of theirs on the halt already recorded); the caller still checks what it keeps (a halt
    under a sub-workflow, one recorded before rules, a timed-out one). docs/http-api.md, Approvals."""

    user_id: str
    email: str
    role: str


@dataclass(frozen=True)
class ExecutionFilter:
    """What a listing selects: every given field must match."""

    workflow_id: str | None = None
    status: str | None = None
    workspace_id: str | None = None
    schedule_id: str | None = None
    waiting_for: str | tuple[str, ...] | None = None
    """Only halted executions whose ``halt_data.type`` is this, or one of these (see
    :mod:`packs.core.workflow.halts`): the approvals inbox asks for ``("approval", "workflow")`` in one query."""

    may_decide: MayDecide | None = None
    """Only executions whose approval this user may decide, as far as the store can tell (see :class:`MayDecide`)."""

    def waiting_kinds(self) -> tuple[str, ...] | None:
        """:attr:`waiting_for` as a tuple (``None``: no such filter)."""
        if self.waiting_for is None:
            return None
        return (self.waiting_for,) if isinstance(self.waiting_for, str) else tuple(self.waiting_for)


@runtime_checkable
class QueueStore(Store, Protocol):
    """A store that queued execution can use: leases, compare-and-set transitions, snapshots."""

    async def add(self, execution: Execution) -> bool: ...
    async def claim(self, execution_id: str, owner: str, lease_seconds: float) -> Execution | None: ...
    async def renew(self, execution_id: str, owner: str, lease_seconds: float) -> bool: ...
    async def release(
        self, execution_id: str, owner: str, *, available_at: datetime.datetime | None = None
    ) -> None: ...
    def leased(self, execution_id: str, owner: str, *, release: bool = False) -> AbstractContextManager[Lease]: ...
    async def transition(self, execution: Execution, expected: Collection[str]) -> bool: ...
    async def recoverable(self, now: datetime.datetime, limit: int = 100) -> list[Execution]: ...
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
        """Executions matching ``where`` newest first (by ``created_at``, then ``id``; with ``oldest_first`` the
        other way, ``after`` then meaning later), ``offset`` of them skipped: only those after ``after`` when given;
        ``total`` counted unless ``count`` is false; with ``ctx_keys`` each execution's ``ctx`` may hold only those
        keys (what a list shows)."""
        ...

    async def count_by_status(
        self,
        where: ExecutionFilter,
        *,
        created_after: datetime.datetime | None = None,
        created_before: datetime.datetime | None = None,
        cap: int | None = None,
    ) -> dict[str, int]:
        """How many executions matching ``where`` have each status (a status none has may be absent), counting
        only those created at or after ``created_after`` and before ``created_before``: one query on SQL; with
        ``cap``, a count over ``cap`` is answered as ``cap + 1`` (what the console shows as "cap+")."""
        ...

    async def save_definition(self, definition: WorkflowDef) -> None: ...
    async def definition_source(self, workflow_id: str, content_hash: str) -> dict[str, Any] | None: ...


KEPT_BY_STORE = (
    "workflow_id",
    "input",
    "workspace_id",
    "created_by_id",
    "schedule_id",
    "definition_version",
    "definition_hash",
    "attempts",
    "lease_owner",
    "lease_expires_at",
)
"""Execution fields a plain ``save``/``checkpoint`` of an existing execution leaves as they are (written once,
when it is inserted)."""


def claimable(execution: Execution, now: datetime.datetime) -> bool:
    """Whether a worker may claim ``execution`` at ``now``: pending with no live lease, or running with a
    lease that ran out (running without a lease is an engine run in some process: never claimable)."""
    expires = execution.lease_expires_at
    if execution.status == Status.PENDING:
        return expires is None or expires <= now
    return execution.status == Status.RUNNING and expires is not None and expires <= now


_KEPT_DEFINITIONS: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
"""Per store, the content hashes whose definition snapshot this process has saved."""


async def keep_definition(store: Any, definition: WorkflowDef) -> None:
    """Have a store that keeps definition snapshots keep ``definition`` (once per process, store and hash)."""
    save = getattr(store, "save_definition", None)
    if save is None:
        return
    kept = _KEPT_DEFINITIONS.setdefault(store, set())
    if definition.content_hash not in kept:
        await save(definition)
        kept.add(definition.content_hash)


@dataclass
class Lease:
    """A block's lease (what :meth:`LeaseFence.leased` yields): whose it is and, with ``release``, whether the
    block's last checkpoint gave it up already."""

    execution_id: str
    owner: str
    release: bool = False
    """The checkpoint that ends the run (the execution leaves ``pending``/``running``) also gives the lease up,
    in the same statement and on the same guard as ``release`` (only while ``owner`` holds it)."""
    released: bool = False
    """A checkpoint in the block gave the lease up: the worker needs no ``release`` of its own."""


class LeaseFence:
    """The lease fence of a store's checkpoints: :meth:`leased` marks a block as run under a lease, and
    :meth:`fenced_owner` tells a checkpoint in it which owner must still hold that lease."""

    def __init__(self) -> None:
        self._lease: ContextVar[Lease | None] = ContextVar(f"lease_fence_{id(self)}", default=None)

    @contextmanager
    def leased(self, execution_id: str, owner: str, *, release: bool = False) -> Iterator[Lease]:
        """Fence the block's checkpoints of ``execution_id`` on ``owner``'s lease; with ``release``, the one that
        ends the run gives the lease up too (:attr:`Lease.released` tells afterwards)."""
        lease = Lease(execution_id, owner, release)
        token = self._lease.set(lease)
        try:
            yield lease
        finally:
            self._lease.reset(token)

    def fenced_owner(self, execution_id: str) -> str | None:
        """The owner whose lease a checkpoint of ``execution_id`` here must respect, or ``None``."""
        lease = self._lease.get()
        return lease.owner if lease is not None and lease.execution_id == execution_id else None

    def releasing(self, execution: Execution) -> Lease | None:
        """The lease a checkpoint of ``execution`` here gives up with its write (it ends the run in a block
        leased with ``release``), or ``None``; the store marks it :attr:`~Lease.released` once written."""
        lease = self._lease.get()
        if lease is None or not lease.release or lease.execution_id != execution.id:
            return None
        return None if execution.status in (Status.PENDING, Status.RUNNING) else lease
