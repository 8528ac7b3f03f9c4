"""``AsyncRunner``: queue an execution and come back for its result (docs/workflow-language.md, section 1, Runners)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from packs.core.workflow import settings
from packs.core.workflow.engine import Engine
from packs.core.workflow.errors import ConfigError, ExecutionError
from packs.core.workflow.language.definition import WorkflowDef
from packs.core.workflow.model import Execution, ExecutionResult, Status, utcnow
from packs.core.workflow.queue.adapters import InlineAdapter, QueueAdapter, start_key
from packs.core.workflow.queue.catalog import DefinitionCatalog
from packs.core.workflow.queue.control import cancel, queue_redrive, queue_resume
from packs.core.workflow.queue.worker import Worker
from packs.core.workflow.stores.protocol import QueueStore, claimable

SETTLED = frozenset({Status.COMPLETED, Status.HALTED, Status.FAILED, Status.CANCELLED})
"""Statuses ``wait`` returns on: the execution needs nothing more from a worker."""


class AsyncRunner:
    """Saves executions as ``pending`` and hands them to a queue adapter; workers run them.

    Without an adapter, executions run as tasks of this process (:class:`InlineAdapter`).
    """

    def __init__(
        self,
        definition: WorkflowDef,
        store: QueueStore | None = None,
        adapter: QueueAdapter | None = None,
        *,
        service_resolver: settings.ServiceResolver | None = None,
        catalog: DefinitionCatalog | None = None,
    ) -> None:
        resolved = store if store is not None else settings.defaults.store
        if resolved is None:
            raise ConfigError("no store: pass store=... or call packs.core.workflow.configure(store=...)")
        if not hasattr(resolved, "claim"):
            raise ConfigError(f"{type(resolved).__name__} cannot queue executions: it has no leases")
        self.definition = definition
        self.store: QueueStore = resolved  # type: ignore[assignment]
        self.catalog = catalog or DefinitionCatalog(self.store)
        if self.catalog.current(definition.id) is None:
            self.catalog.add(definition)
        self.engine = Engine(definition, self.store, service_resolver)
        if adapter is None:
            adapter = InlineAdapter(Worker(self.store, self.catalog, service_resolver=self.engine.service_resolver))
        self.adapter = adapter

    async def run(
        self,
        input: dict[str, Any] | None = None,
        execution_id: str | None = None,
        *,
        workspace_id: str | None = None,
        created_by_id: str | None = None,
        schedule_id: str | None = None,
    ) -> str:
        """Save the execution as ``pending``, queue it and return its id.

        An ``execution_id`` that exists already is an idempotent repeat: nothing is saved, and the
        execution is queued again only if it is pending with no live lease (the first attempt may have
        saved it and died before queueing it). Both deliveries carry the key ``start:<id>``, so a queue
        that still holds the first drops the second; a second delivery is harmless anyway (the lease).
        """
        started, _ = await self.submit(
            input, execution_id, workspace_id=workspace_id, created_by_id=created_by_id, schedule_id=schedule_id
        )
        return started

    async def submit(
        self,
        input: dict[str, Any] | None = None,
        execution_id: str | None = None,
        *,
        workspace_id: str | None = None,
        created_by_id: str | None = None,
        schedule_id: str | None = None,
    ) -> tuple[str, bool]:
        """:meth:`run`, also saying whether this call saved the execution (``False``: it repeated an earlier
        start, which two callers sending one id at once cannot tell apart from a read made before)."""
        execution = self.engine.new_execution(
            input,
            execution_id,
            status=Status.PENDING,
            workspace_id=workspace_id,
            created_by_id=created_by_id,
            schedule_id=schedule_id,
        )
        if await self.add_pending(execution):
            await self.deliver(execution.id)
            return execution.id, True
        existing = await self.store.load(execution.id)
        if existing is not None and existing.workflow_id != self.definition.id:
            raise ExecutionError(
                f"execution {execution.id} belongs to workflow {existing.workflow_id!r}, not {self.definition.id!r}"
            )
        if existing is not None and existing.status == Status.PENDING and claimable(existing, utcnow()):
            await self.deliver(existing.id)
        return execution.id, False

    async def add_pending(self, execution: Execution) -> bool:
        """Save ``execution`` (built by ``self.engine.new_execution(..., status=Status.PENDING)``) without queueing
        it, in the store's open unit when there is one; whether it was new. Queue it with :meth:`deliver` once
        that unit has committed (a worker must find it)."""
        await self.catalog.snapshot(self.definition)
        return bool(await self.store.add(execution))

    async def deliver(self, execution_id: str) -> None:
        """Queue a pending execution to start (the key ``start:<id>``: a queue still holding it drops a repeat)."""
        await self.adapter.enqueue(execution_id, key=start_key(execution_id))

    async def resume(self, execution_id: str, response: Any = None, approved: bool | None = None) -> Execution:
        """Queue a halted execution to continue with ``response`` / ``approved``."""
        execution = await queue_resume(self.store, execution_id, response, approved)
        await self.adapter.enqueue(execution_id)
        return execution

    async def redrive(self, execution_id: str) -> Execution:
        """Queue a failed execution again from its failed step."""
        execution = await queue_redrive(self.store, execution_id)
        await self.adapter.enqueue(execution_id)
        return execution

    async def cancel(self, execution_id: str) -> Execution:
        """Cancel a pending, running or halted execution (a worker running it stops at the next step)."""
        return await cancel(self.store, execution_id)

    async def status(self, execution_id: str) -> Status | None:
        """The execution's status, or ``None`` for an unknown id."""
        execution = await self.store.load(execution_id)
        return None if execution is None else Status(execution.status)

    async def wait(self, execution_id: str, timeout: float = 30) -> ExecutionResult | None:  # noqa: ASYNC109 (docs/workflow-language.md names it)
        """The result once the execution is completed, halted, failed or cancelled; ``None`` on timeout."""
        return await wait_for(self.store, execution_id, timeout)


async def wait_for(store: QueueStore, execution_id: str, timeout: float = 30) -> ExecutionResult | None:  # noqa: ASYNC109
    """Poll ``store`` until the execution settles (see :data:`SETTLED`); ``None`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        execution = await store.load(execution_id)
        if execution is not None and execution.status in SETTLED:
            return ExecutionResult.of(execution)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.25)
