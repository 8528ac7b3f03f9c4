"""The application's workflow API: start, list, show, resume, cancel, retry and watch executions.

What the workflow HTTP endpoints (and any other front end) call. Every method takes the caller's
workspace: an execution of another workspace is reported exactly as one that does not exist. A
caller's start gets its ``user_id`` / ``workspace_id`` inputs from the caller's identity, and its
input checked against the workflow's inputs, here (:meth:`WorkflowService.start_as`).
Executions are queued on the configured adapter and run by workers; ``sync`` mode waits for the
result (the execution is still run by a worker, so it survives the request).
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from packs.core.tools.errors import ValidationError
from packs.core.workflow import (
    FAILURE,
    FINAL_STATUSES,
    AsyncRunner,
    DefinitionCatalog,
    Entry,
    Event,
    EventReplay,
    Execution,
    ExecutionError,
    ExecutionFilter,
    ExecutionNotFoundError,
    ExecutionStateError,
    Keyset,
    Page,
    QueueAdapter,
    QueueStore,
    ServiceResolver,
    Status,
    StepError,
    WorkflowDef,
    cancel,
    check_input,
    queue_redrive,
    queue_resume,
    to_json_value,
    wait_for,
)
from packs.core.workflow.json_values import same_json

Mode = Literal["sync", "async"]


IDEMPOTENCY_NAMESPACE = uuid.UUID("9f6c2d1e-4a7b-5c3d-8e2f-1b0a9c8d7e6f")
"""The UUID namespace of execution ids derived from a workspace and an ``Idempotency-Key``."""

IDENTITY_INPUTS = frozenset({"user_id", "workspace_id"})
"""Inputs a caller cannot give: they come from its identity, as a tool's ``user_id`` / ``workspace_id`` do."""

MAX_POLL_SECONDS = 2.0
"""The slowest an event stream reads an execution that does not change (a halted one)."""


class UnknownWorkflowError(LookupError):
    """No loaded workflow has the given id."""


class IdempotencyConflictError(ExecutionError):
    """The ``Idempotency-Key`` was used in this workspace for another workflow or another input."""


def idempotent_execution_id(workspace_id: str, key: str) -> str:
    """The execution id an ``Idempotency-Key`` stands for in a workspace (the same key elsewhere: another id)."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{uuid.UUID(str(workspace_id))}/{uuid.UUID(key)}"))


def check_same_start(existing: Execution, workflow_id: str, input: dict[str, Any], key: str) -> None:
    """:class:`IdempotencyConflictError` unless ``existing`` was started with this workflow and input."""
    if existing.workflow_id != workflow_id:
        raise IdempotencyConflictError(
            f"the Idempotency-Key {key} was already used in this workspace to start workflow "
            f"{existing.workflow_id!r}; use a new key for another start"
        )
    if not same_json(existing.input, to_json_value(input, "the input")):
        raise IdempotencyConflictError(
            f"the Idempotency-Key {key} was already used in this workspace with a different input; "
            "repeat the first request exactly, or use a new key"
        )


@dataclass(frozen=True)
class Started:
    """What :meth:`WorkflowService.start` did: the execution, and whether the start repeated an earlier one (the
    same ``Idempotency-Key``: nothing new was started)."""

    execution: Execution
    repeated: bool


@dataclass
class WorkflowService:
    """Executions of the loaded workflows, scoped to workspaces."""

    definitions: Mapping[str, WorkflowDef]
    store: QueueStore
    catalog: DefinitionCatalog
    adapter: QueueAdapter
    service_resolver: ServiceResolver | None = None
    sync_timeout: float = 30.0
    """How long ``sync`` mode waits for an execution to settle before answering with its current state."""
    poll_interval: float = 0.2
    """How often an event stream reads its execution while it changes (see :meth:`events`)."""
    _runners: dict[str, AsyncRunner] = field(default_factory=dict, init=False, repr=False)

    def definition(self, workflow_id: str) -> WorkflowDef:
        """The loaded workflow ``workflow_id``; :class:`UnknownWorkflowError` when there is none."""
        try:
            return self.definitions[workflow_id]
        except KeyError:
            raise UnknownWorkflowError(f"no workflow {workflow_id!r}") from None

    def runner(self, workflow_id: str) -> AsyncRunner:
        """The :class:`AsyncRunner` of ``workflow_id`` on the service's store, catalog and adapter."""
        runner = self._runners.get(workflow_id)
        if runner is None:
            runner = self._runners[workflow_id] = AsyncRunner(
                self.definition(workflow_id),
                self.store,
                self.adapter,
                service_resolver=self.service_resolver,
                catalog=self.catalog,
            )
        return runner

    async def start(
        self,
        workflow_id: str,
        input: dict[str, Any],
        *,
        workspace_id: str,
        user_id: str,
        mode: Mode = "async",
        idempotency_key: str | None = None,
    ) -> Started:
        """Queue an execution; ``sync`` waits until it settles.

        An ``idempotency_key`` (a UUID) is the workspace's own: the execution id is derived from the
        workspace and the key (:func:`idempotent_execution_id`), so the same key in another workspace
        is a free key there. Repeating it in the same workspace with the same workflow and input
        answers the first execution (queued again at once if it was saved but never queued);
        with another workflow or input it is :class:`IdempotencyConflictError`. The answer says whether the
        start repeated an earlier one.
        """
        runner = self.runner(workflow_id)
        execution_id = None
        if idempotency_key is not None:
            execution_id = idempotent_execution_id(workspace_id, idempotency_key)
            existing = await self.store.load(execution_id)
            if existing is not None:
                check_same_start(existing, workflow_id, input, idempotency_key)
        started, created = await runner.submit(input, execution_id, workspace_id=workspace_id, created_by_id=user_id)
        repeated = not created
        execution = await self.get(started, workspace_id)
        if idempotency_key is not None:
            check_same_start(execution, workflow_id, input, idempotency_key)
        if mode == "sync":
            await wait_for(self.store, started, self.sync_timeout)
            execution = await self.get(started, workspace_id)
        return Started(execution, repeated)

    def caller_input(
        self, workflow_id: str, given: Mapping[str, Any], *, workspace_id: str, user_id: str
    ) -> dict[str, Any]:
        """The input a caller starts ``workflow_id`` with: ``given`` without identity keys, plus the caller's
        ``user_id`` / ``workspace_id`` where the workflow declares those inputs, checked against its inputs
        (:class:`ValidationError` naming ``input``; :class:`UnknownWorkflowError` when there is no such
        workflow)."""
        definition = self.definition(workflow_id)
        run_input = {key: value for key, value in given.items() if key not in IDENTITY_INPUTS}
        if "user_id" in definition.inputs:
            run_input["user_id"] = user_id
        if "workspace_id" in definition.inputs:
            run_input["workspace_id"] = workspace_id
        try:
            check_input(definition.inputs, run_input)
        except StepError as error:
            raise ValidationError(str(error), {"input": str(error)}) from None
        return run_input

    async def start_as(
        self,
        workflow_id: str,
        given: Mapping[str, Any],
        *,
        workspace_id: str,
        user_id: str,
        mode: Mode = "async",
        idempotency_key: str | None = None,
    ) -> Started:
        """:meth:`start` for a caller: the input is :meth:`caller_input` of ``given``."""
        run_input = self.caller_input(workflow_id, given, workspace_id=workspace_id, user_id=user_id)
        return await self.start(
            workflow_id,
            run_input,
            workspace_id=workspace_id,
            user_id=user_id,
            mode=mode,
            idempotency_key=idempotency_key,
        )

    async def get(self, execution_id: str, workspace_id: str) -> Execution:
        """The execution, if it belongs to ``workspace_id``; :class:`ExecutionNotFoundError` otherwise."""
        execution = await self.store.load(execution_id)
        if execution is None or execution.workspace_id != workspace_id:
            raise ExecutionNotFoundError(f"no execution {execution_id}")
        return execution

    async def loaded(self, execution_id: str, workspace_id: str) -> Execution:
        """The execution (see :meth:`get`), if this app can run its workflow; :class:`ExecutionStateError` when no
        enabled pack provides it any more (the execution waits, unchanged, until the pack is enabled again)."""
        execution = await self.get(execution_id, workspace_id)
        if execution.workflow_id not in self.definitions:
            raise ExecutionStateError(
                f"execution {execution_id} belongs to workflow {execution.workflow_id!r}, which no enabled pack "
                "provides (is its pack disabled?); it can go on once that pack is enabled again"
            )
        return execution

    async def entries(self, execution_id: str, workspace_id: str) -> list[Entry]:
        """The execution's entries, oldest first."""
        await self.get(execution_id, workspace_id)
        return await self.store.entries(execution_id)

    async def list(
        self,
        workspace_id: str,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        page: int = 1,
        per_page: int = 25,
        after: Keyset | None = None,
        keyset: bool = False,
        schedule_id: str | None = None,
        waiting_for: str | None = None,
    ) -> Page:
        """The workspace's executions, newest first, one page of them, read without their contexts (but
        for the failure record the list shows).

        With ``keyset`` the page is the ``per_page`` executions after ``after`` (from the newest when
        ``None``) plus one more when there is a next page, and ``total`` is not counted.
        """
        where = ExecutionFilter(
            workflow_id=workflow_id,
            status=status,
            workspace_id=workspace_id,
            schedule_id=schedule_id,
            waiting_for=waiting_for,
        )
        if keyset:
            return await self.store.page(where, limit=per_page + 1, after=after, count=False, ctx_keys=(FAILURE,))
        return await self.store.page(where, offset=(page - 1) * per_page, limit=per_page, ctx_keys=(FAILURE,))

    async def status_counts(
        self,
        workspace_id: str,
        *,
        workflow_id: str | None = None,
        schedule_id: str | None = None,
        waiting_for: str | None = None,
        created_after: datetime.datetime | None = None,
        created_before: datetime.datetime | None = None,
        cap: int | None = None,
    ) -> dict[str, int]:
        """How many of the workspace's executions matching the list's filters have each status (every status
        present, 0 when none), created at or after ``created_after`` and before ``created_before``: one query on
        the SQL store; with ``cap``, a count over ``cap`` is ``cap + 1`` (each status read up to that many)."""
        where = ExecutionFilter(
            workflow_id=workflow_id, workspace_id=workspace_id, schedule_id=schedule_id, waiting_for=waiting_for
        )
        found = await self.store.count_by_status(
            where, created_after=created_after, created_before=created_before, cap=cap
        )
        return {str(status): found.get(str(status), 0) for status in Status}

    async def resume(
        self, execution_id: str, workspace_id: str, *, response: Any = None, approved: bool | None = None
    ) -> Execution:
        """Queue a halted execution to continue; :class:`ExecutionStateError` when it is not halted, or when its
        workflow is not loaded (its pack is disabled)."""
        execution = await self.loaded(execution_id, workspace_id)
        await queue_resume(self.store, execution.id, response, approved)
        await self.adapter.enqueue(execution.id)
        return await self.get(execution_id, workspace_id)

    async def cancel(self, execution_id: str, workspace_id: str) -> Execution:
        """Cancel a pending, running or halted execution; :class:`ExecutionStateError` when it has ended."""
        await self.get(execution_id, workspace_id)
        return await cancel(self.store, execution_id)

    async def retry(self, execution_id: str, workspace_id: str) -> Execution:
        """Redrive a failed execution from its failed step; :class:`ExecutionStateError` when it is not failed, or
        when its workflow is not loaded (its pack is disabled)."""
        await self.loaded(execution_id, workspace_id)
        await queue_redrive(self.store, execution_id)
        await self.adapter.enqueue(execution_id)
        return await self.get(execution_id, workspace_id)

    async def watch(self, execution_id: str, workspace_id: str) -> AsyncIterator[Event]:
        """:meth:`events`, once the execution is found in ``workspace_id`` (:class:`ExecutionNotFoundError` at
        once, before any event is asked for: an HTTP stream answers 404 instead of starting)."""
        await self.get(execution_id, workspace_id)
        return self.events(execution_id, workspace_id)

    async def events(self, execution_id: str, workspace_id: str) -> AsyncIterator[Event]:
        """The execution's events: what already happened first, then live ones until it ends.

        Events are read from the store (entries and status), so they are the same whichever process
        runs the execution. The stream stays open while the execution is halted (waiting for a
        resume) and ends once it is completed, failed or cancelled.

        Each poll reads the execution's row; its entries only when the row changed (every checkpoint and
        status change writes ``updated_at``). While nothing changes the polls slow down, from
        ``poll_interval`` to :data:`MAX_POLL_SECONDS`: a stream open on a halted execution costs one
        small read every few seconds, not a read of all its entries five times a second.
        """
        await self.get(execution_id, workspace_id)
        replay = EventReplay(execution_id)
        seen: datetime.datetime | None = None
        pause = self.poll_interval
        while True:
            execution = await self.store.load(execution_id)
            if execution is None:
                return
            if execution.updated_at != seen:
                seen, pause = execution.updated_at, self.poll_interval
                for event in replay.advance(execution, await self.store.entries(execution_id)):
                    yield event
            else:
                pause = min(pause * 1.5, MAX_POLL_SECONDS)
            if execution.status in FINAL_STATUSES:
                return
            await asyncio.sleep(pause)


__all__ = [
    "IDENTITY_INPUTS",
    "IdempotencyConflictError",
    "Mode",
    "Started",
    "UnknownWorkflowError",
    "WorkflowService",
    "idempotent_execution_id",
]
