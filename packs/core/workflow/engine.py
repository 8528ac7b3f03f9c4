"""The engine: runs a workflow's steps, checkpointing each step boundary in the store."""

from __future__ import annotations

import asyncio
import copy
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

import msgspec

from packs.core.workflow import retry, settings
from packs.core.workflow.context import LARGE_VALUE_BYTES, as_context
from packs.core.workflow.errors import (
    ConfigError,
    ExecutionError,
    ExecutionNotFoundError,
    ExecutionStateError,
    LeaseLostError,
    StepError,
    StepValueError,
)
from packs.core.workflow.events import Event
from packs.core.workflow.halts import innermost
from packs.core.workflow.language.definition import FINISHED, StepDef, WorkflowDef
from packs.core.workflow.model import Action, Entry, Execution, ExecutionResult, Status, new_id, utcnow
from packs.core.workflow.outcomes import Continue, Finish, Halt
from packs.core.workflow.resume_input import check_resume, waiting_approval
from packs.core.workflow.signals import waiting_for_signal
from packs.core.workflow.state import (
    FAILURE,
    RunState,
    describe,
    elapsed_ms,
    error_details,
    error_message,
    failure,
    to_json_value,
)
from packs.core.workflow.steps import workflow_parent
from packs.core.workflow.steps.base import StepExecutor
from packs.core.workflow.steps.loop import CURSOR as LOOP_CURSOR
from packs.core.workflow.steps.parallel import CURSOR as PARALLEL_CURSOR
from packs.core.workflow.steps.registry import step_types
from packs.core.workflow.steps.wait import waiting_until
from packs.core.workflow.stores.protocol import Store, keep_definition

Listener = Callable[[Event], Awaitable[None] | None]

RESUME_REQUEST = "_resume"
"""Context key of a queued resume (``{"response", "approved"}``), taken out when a worker continues it."""


class StepUnit:
    """The store's unit around the step being run, which a ``loop`` step may commit between iterations
    and a ``parallel`` step closes while its branches hold units of their own.

    :meth:`commit` ends the open unit (committing what the step wrote so far with the checkpoint made
    in it) and opens the next one, so no transaction stays open across iterations; :meth:`close` and
    :meth:`reopen` do the same in two halves, with the branches run between them
    (docs/workflow-language.md, section 5).
    """

    __slots__ = ("current", "store")

    def __init__(self, store: Store) -> None:
        self.store = store
        self.current: AbstractAsyncContextManager[None] | None = None

    async def __aenter__(self) -> None:
        self.current = self.store.unit()
        await self.current.__aenter__()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        current, self.current = self.current, None
        if current is not None:
            await current.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        """Commit the open unit and open the next one."""
        await self.close()
        await self.__aenter__()

    async def close(self) -> None:
        """Commit the open unit and open none until :meth:`reopen`: a ``parallel`` step's branches hold units
        of their own meanwhile (docs/workflow-language.md, section 5)."""
        current, self.current = self.current, None
        if current is not None:
            await current.__aexit__(None, None, None)

    async def reopen(self) -> None:
        """Open the next unit after :meth:`close`."""
        await self.__aenter__()


def keeps_history(definition: WorkflowDef) -> bool:
    """Whether runs of ``definition`` keep ``$history`` (worked out once per definition: a worker builds an
    engine for every run)."""
    cached: bool | None = definition.__dict__.get("_keeps_history")
    if cached is None:
        cached = definition.uses_history or any(
            getattr(step_types.get(step.type), "executor_class", StepExecutor).reads_history
            for step in definition.walk()
        )
        object.__setattr__(definition, "_keeps_history", cached)
    return cached


class Engine:
    """Runs one workflow definition against a store, resolving ``call`` services through a resolver."""

    def __init__(
        self,
        definition: WorkflowDef,
        store: Store | None = None,
        service_resolver: settings.ServiceResolver | None = None,
        *,
        logger: logging.Logger | None = None,
        max_state_bytes: int | None = None,
    ) -> None:
        self.definition = definition
        resolved_store = store if store is not None else settings.defaults.store
        if resolved_store is None:
            raise ConfigError("no store: pass store=... or call packs.core.workflow.configure(store=...)")
        self.store: Store = resolved_store
        self.service_resolver = service_resolver if service_resolver is not None else settings.defaults.service_resolver
        self.logger = logger or settings.defaults.logger
        self.max_state_bytes = max_state_bytes or settings.defaults.max_state_bytes
        self.listeners: list[Listener] = []
        self.should_stop: Callable[[], bool] | None = None
        """Checked before every step; when it answers true the run stops (:class:`LeaseLostError`)."""
        self._executors: dict[int, StepExecutor] = {}
        self.keeps_history = keeps_history(definition)
        """Whether runs keep ``$history``: only a definition that reads it (a step referencing ``$history``, or
        of a type whose code does) has its recorded entries loaded on resume and recover."""

    # -- public API -----------------------------------------------------------------------------

    async def run(
        self,
        input: dict[str, Any] | None = None,
        execution_id: str | None = None,
        *,
        workspace_id: str | None = None,
        created_by_id: str | None = None,
        parent: tuple[str, str] | None = None,
    ) -> ExecutionResult:
        """Start an execution; with an ``execution_id`` that exists already, answer its current result.

        ``workspace_id`` / ``created_by_id`` record who started it (the app's workflow API filters on them).
        ``parent``: ``(execution id, step path)`` of the ``workflow`` step that starts this child execution.
        """
        with workflow_parent.collecting() as woken:
            async with self._scope():
                result = await self._run(input, execution_id, workspace_id, created_by_id, parent)
        await self._continue_parents(woken)
        return result

    def new_execution(
        self,
        input: dict[str, Any] | None = None,
        execution_id: str | None = None,
        *,
        status: Status = Status.RUNNING,
        workspace_id: str | None = None,
        created_by_id: str | None = None,
        schedule_id: str | None = None,
    ) -> Execution:
        """A new execution of this definition, at its first step (not saved)."""
        now = utcnow()
        return Execution(
            id=execution_id or new_id(),
            workflow_id=self.definition.id,
            created_at=now,
            updated_at=now,
            status=status,
            input=to_json_value(dict(input or {}), "the input"),
            current_step=self.definition.first_step.id,
            workspace_id=workspace_id,
            created_by_id=created_by_id,
            schedule_id=schedule_id,
            definition_version=self.definition.version,
            definition_hash=self.definition.content_hash,
        )

    async def _run(
        self,
        input: dict[str, Any] | None,
        execution_id: str | None,
        workspace_id: str | None,
        created_by_id: str | None,
        parent: tuple[str, str] | None = None,
    ) -> ExecutionResult:
        if execution_id is not None and (existing := await self.store.load(execution_id)) is not None:
            if existing.workflow_id != self.definition.id:
                raise ExecutionError(
                    f"execution {execution_id} belongs to workflow {existing.workflow_id!r}, not {self.definition.id!r}"
                )
            return ExecutionResult.of(existing)
        first = self.definition.first_step
        execution = self.new_execution(input, execution_id, workspace_id=workspace_id, created_by_id=created_by_id)
        if parent is not None:
            workflow_parent.link(execution, *parent)
        await keep_definition(self.store, self.definition)
        started = self._entry(execution, first, Action.STARTED)
        await self.store.checkpoint(execution, [started])
        await self.notify("workflow.started", {"execution_id": execution.id, "workflow_id": execution.workflow_id})
        await self.notify("step.started", {"step_id": first.id, "step_type": first.type})
        return await self._drive(RunState(self, execution, [started] if self.keeps_history else None), first.id)

    async def resume(self, execution_id: str, response: Any = None, approved: bool | None = None) -> ExecutionResult:
        """Continue a halted execution, giving it ``response`` and/or ``approved``."""
        with workflow_parent.collecting() as woken:
            async with self._scope():
                result = await self._resume(execution_id, response, approved)
        await self._continue_parents(woken)
        return result

    async def _resume(self, execution_id: str, response: Any, approved: bool | None) -> ExecutionResult:
        execution = await self._load_own(execution_id)
        if execution.status != Status.HALTED:
            raise ExecutionStateError(
                f"execution {execution_id} is {execution.status}; only a halted execution can resume"
            )
        prepare_resume(execution, response, approved)
        execution.status = Status.RUNNING
        return await self._continue_resumed(execution, response, approved)

    async def _continue_resumed(self, execution: Execution, response: Any, approved: bool | None) -> ExecutionResult:
        """Checkpoint the resumed execution (``running``, at its resume step) and drive it from there."""
        step_id = execution.current_step or FINISHED
        entries = [] if step_id == FINISHED else [self._entry(execution, self.definition.step(step_id), Action.STARTED)]
        await self.store.checkpoint(execution, entries)
        await self.notify("workflow.resumed", {"execution_id": execution.id, "step_id": step_id})
        if entries:
            await self.notify("step.started", {"step_id": step_id, "step_type": entries[0].step_type})
        history = await self.store.entries(execution.id) if self.keeps_history else None
        state = RunState(self, execution, history)
        state.resumed = True
        state.resume_response = response
        state.resume_approved = approved
        return await self._drive(state, step_id)

    async def recover(self, execution_id: str, *, loaded: Execution | None = None) -> ExecutionResult:
        """Continue an execution left ``running`` or ``pending`` (its process died) from its last checkpoint.

        The step that was under way when the process died re-runs: its database writes were not
        committed, since they commit together with the step's checkpoint. A halted execution is
        resumed; a finished one is answered as it is. Only call this for an execution that no
        other process is running (a worker holds its lease). ``loaded``: the execution as just read
        (a worker's claim returns it), saving a read.
        """
        with workflow_parent.collecting() as woken:
            async with self._scope():
                result = await self._recover(execution_id, loaded)
        await self._continue_parents(woken)
        return result

    async def _continue_parents(self, woken: list[str] | None) -> None:
        """Drive the parents whose child ended in this call, each under its registered definition: no worker
        around the call delivers them (a worker gathers them itself; docs/workflow-language.md, step type
        ``workflow``). A parent whose workflow is not registered stays queued for a worker."""
        for parent_id in woken or ():
            parent = await self.store.load(parent_id)
            definition = None if parent is None else settings.registry.get(parent.workflow_id)
            if definition is None:
                self.logger.warning("execution %s: its child ended; queued, its workflow is not registered", parent_id)
                continue
            engine = Engine(
                definition, self.store, self.service_resolver, logger=self.logger, max_state_bytes=self.max_state_bytes
            )
            engine.listeners = self.listeners
            await engine.recover(parent_id)

    async def _recover(self, execution_id: str, loaded: Execution | None = None) -> ExecutionResult:
        if loaded is not None and loaded.id == execution_id and loaded.workflow_id == self.definition.id:
            execution = loaded
        else:
            execution = await self._load_own(execution_id)
        if execution.status == Status.HALTED:
            halt, _ = innermost(execution.halt_data)  # a sub-workflow waits as its child does
            if waiting_approval(halt) is not None or waiting_until(halt) is not None or waiting_for_signal(halt):
                # Only a decision moves an approval, its timer a wait, a signal a receive: nothing to recover yet.
                return ExecutionResult.of(execution)
            return await self._resume(execution_id, None, None)
        if execution.status not in (Status.RUNNING, Status.PENDING):
            return ExecutionResult.of(execution)
        request = execution.ctx.pop(RESUME_REQUEST, None)
        if execution.status == Status.PENDING and isinstance(request, dict):
            execution.status = Status.RUNNING
            return await self._continue_resumed(execution, request.get("response"), request.get("approved"))
        step_id = execution.current_step or self.definition.first_step.id
        # A queued execution no step has touched yet (saved once, never updated) has no entries to read.
        untouched = execution.status == Status.PENDING and execution.updated_at == execution.created_at
        history: list[Entry] | None = [] if self.keeps_history else None
        if untouched:
            fresh = True
        elif history is not None:
            history = await self.store.entries(execution.id)
            fresh = not history
        elif execution.status == Status.PENDING and not self.listeners:
            # A pending execution runs the same whether it has entries or not (only the event differs, and
            # nobody listens): no read, e.g. for every execution a timer woke.
            fresh = False
        else:
            fresh = not await self._has_entries(execution.id)
        state = RunState(self, execution, history)
        if execution.status == Status.PENDING or fresh:
            execution.status = Status.RUNNING
            execution.error = None
            if step_id == FINISHED:
                await self._finish(state, copy.deepcopy(dict(state.ctx)), [])
                return ExecutionResult.of(execution)
            step = self.definition.step(step_id)
            started = self._entry(execution, step, Action.STARTED)
            if self.executor(step).is_instant(state):
                state.carried = [started]  # committed with the step's end (docs/workflow-language.md, section 5)
            else:
                await self.store.checkpoint(execution, [started])
            if history is not None:
                history.append(started)
        if fresh:
            await self.notify("workflow.started", {"execution_id": execution.id, "workflow_id": execution.workflow_id})
            await self.notify("step.started", {"step_id": step_id, "step_type": self.definition.step(step_id).type})
        else:
            await self.notify("workflow.resumed", {"execution_id": execution.id, "step_id": step_id})
        return await self._drive(state, step_id)

    def _scope(self) -> AbstractAsyncContextManager[None]:
        """The store's execution scope (one connection for the whole run), when it has one."""
        scope = getattr(self.store, "execution_scope", None)
        return scope() if callable(scope) else nullcontext()

    async def _load_own(self, execution_id: str) -> Execution:
        """The execution ``execution_id`` of this workflow; :class:`ExecutionError` otherwise."""
        execution = await self.store.load(execution_id)
        if execution is None:
            raise ExecutionNotFoundError(f"no execution {execution_id}")
        if execution.workflow_id != self.definition.id:
            raise ExecutionNotFoundError(
                f"execution {execution_id} belongs to workflow {execution.workflow_id!r}, not {self.definition.id!r}"
            )
        return execution

    async def _has_entries(self, execution_id: str) -> bool:
        """Whether the execution has recorded entries (a store's ``has_entries`` reads at most one)."""
        probe = getattr(self.store, "has_entries", None)
        if probe is not None:
            return bool(await probe(execution_id))
        return bool(await self.store.entries(execution_id))

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` (sync or async) with every event of this engine's executions."""
        self.listeners.append(listener)

    # -- used by steps --------------------------------------------------------------------------

    def resolve_service(self, name: str) -> Any:
        """The service ``name`` from the resolver; :class:`StepError` when unknown."""
        if self.service_resolver is None:
            raise StepError(f"no service resolver is configured, so service {name!r} cannot be called")
        service = self.service_resolver(name)
        if service is None:
            raise StepError(f"unknown service {name!r}: it is not a registered tool or service")
        return service

    def executor(self, step: StepDef) -> StepExecutor:
        """The executor of ``step`` (built once per engine)."""
        key = id(step)
        if key not in self._executors:
            self._executors[key] = step_types.executor_for(step)
        return self._executors[key]

    def child(self, workflow_id: str) -> Engine:
        """An engine for the registered workflow ``workflow_id`` on the same store and resolver."""
        definition = settings.registry.get(workflow_id)
        if definition is None:
            raise StepError(f"unknown workflow {workflow_id!r}: register it with packs.core.workflow.register")
        child = Engine(
            definition,
            self.store,
            self.service_resolver,
            logger=self.logger,
            max_state_bytes=self.max_state_bytes,
        )
        child.listeners = self.listeners
        return child

    def check_size(self, step_path: str, output: Any, ctx: dict[str, Any], entry_id: str | None = None) -> None:
        """:class:`StepValueError` when the step's output or the context is over the size cap.

        The context's size is kept per top-level key (:meth:`~packs.core.workflow.context.Context.measure`):
        only the keys changed since the last check are encoded again. With ``entry_id`` (the entry that
        records ``output``), a large context value equal to the output is noted as that entry's, so the
        store writes it once (docs/workflow-language.md, section 5, Checkpoints).
        """
        limit = self.max_state_bytes
        encoded = msgspec.json.encode(output)
        if len(encoded) > limit:
            raise StepValueError(f"step {step_path!r}: output is {len(encoded)} bytes, over the limit of {limit} bytes")
        context = as_context(ctx)
        size = context.measure()
        if size > limit:
            raise StepValueError(f"step {step_path!r}: context is {size} bytes, over the limit of {limit} bytes")
        if entry_id is not None and len(encoded) >= LARGE_VALUE_BYTES:
            context.refer(encoded, entry_id)

    async def checkpoint_iteration(self, state: RunState) -> None:
        """Commit what the running step did so far: its pending entries and the context (which holds the
        loop's cursor), with the writes of its services, in the step's unit; then open the next unit.

        Only for the step the engine runs (``state.step_unit``), never from a parallel branch. Checks the
        lease first, as before every step (:class:`LeaseLostError`).
        """
        execution = state.execution
        if self.should_stop is not None and self.should_stop():
            raise LeaseLostError(
                f"execution {execution.id}: stopping inside step {state.position!r}, the lease was lost"
            )
        assert state.step_unit is not None
        execution.ctx = state.ctx
        execution.updated_at = utcnow()
        entries, state.pending = state.pending, []
        await self.store.checkpoint(execution, entries)
        await state.step_unit.commit()

    async def checkpoint_branch(self, state: RunState, entries: list[Entry]) -> None:
        """Checkpoint a finished branch of the ``parallel`` step the engine runs: its ``entries`` and the
        context (which holds the step's cursor), in the unit the branch holds, whose end commits them with
        the branch's writes (docs/workflow-language.md, section 5).

        Checks the lease first, as before every step (:class:`LeaseLostError`).
        """
        execution = state.execution
        if self.should_stop is not None and self.should_stop():
            raise LeaseLostError(
                f"execution {execution.id}: stopping inside step {state.position!r}, the lease was lost"
            )
        execution.ctx = state.ctx
        execution.updated_at = utcnow()
        await self.store.checkpoint(execution, entries)

    async def notify(self, event_type: str, data: dict[str, Any]) -> None:
        """:meth:`emit` an event of ``event_type`` with ``data``, built only when someone listens."""
        if self.listeners:
            await self.emit(Event(event_type, data))

    async def emit(self, event: Event) -> None:
        """Hand ``event`` to every listener; a listener that raises is logged, never breaks the run."""
        if not self.listeners:
            return
        for listener in self.listeners:
            try:
                result = listener(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.logger.exception("workflow event listener %r failed on %s", listener, event.type)

    # -- the loop -------------------------------------------------------------------------------

    async def _drive(self, state: RunState, step_id: str) -> ExecutionResult:
        timeout = self.definition.timeout
        try:
            if timeout:
                async with asyncio.timeout(timeout):
                    await self._steps(state, step_id)
            else:
                await self._steps(state, step_id)
        except TimeoutError:
            as_context(state.ctx).whole = True  # a checkpoint may have been cut short: write the context whole
            await self._fail(state, f"Workflow timeout after {timeout:g}s", None)
        return ExecutionResult.of(state.execution)

    async def _steps(self, state: RunState, step_id: str) -> None:
        execution = state.execution
        unit = state.step_unit = StepUnit(self.store)
        while True:
            if self.should_stop is not None and self.should_stop():
                raise LeaseLostError(f"execution {execution.id}: stopping before step {step_id!r}, the lease was lost")
            carried, state.carried = state.carried, []
            if step_id == FINISHED:
                await self._finish(state, copy.deepcopy(dict(state.ctx)), carried)
                return
            step = self.definition.step(step_id)
            state.ctx.begin_undo()  # top-level values are replaced, never changed in place
            state.pending = carried
            state.position = step.id
            started = time.monotonic()
            executor = self.executor(step)
            instant = executor.is_instant(state)
            try:
                async with unit:
                    attempt = retry.begin_attempt(state.ctx, step)
                    outcome = await executor.call(state)
                    state.resumed = False
                    next_step = await self._conclude(state, step, outcome, started, attempt, instant)
            except (asyncio.CancelledError, LeaseLostError):
                raise
            except Exception as error:
                state.resumed = False
                state.ctx.undo()
                state.ctx.whole = True  # a checkpoint of the failed unit may have been rolled back
                state.ctx.pop(LOOP_CURSOR, None)  # a failed loop starts over when it runs again
                state.ctx.pop(PARALLEL_CURSOR, None)  # and so does a failed parallel step
                message = describe(error)
                self.logger.warning(
                    "workflow %s execution %s: step %s failed: %s: %s",
                    execution.workflow_id,
                    execution.id,
                    step.id,
                    type(error).__name__,
                    error,
                    exc_info=None if isinstance(error, StepError) else error,  # a StepError's message says it all
                )
                failed = self._record(state, step, Action.FAILED, duration_ms=elapsed_ms(started), error=message)
                await self.notify("step.failed", {"step_id": step.id, "error": message})
                followup = retry.after_failure(step, error, state.ctx, failed)
                if isinstance(followup, retry.Retry):
                    if await retry.schedule(state, step, followup, [*state.pending, failed]):
                        continue
                    return
                if followup is None and step.on_error is None:
                    state.ctx[FAILURE] = failure(error, step.id)
                    await self._fail(state, message, failed)
                    return
                if followup is None:
                    last_error: dict[str, Any] = {
                        "step": step.id,
                        "message": error_message(error),
                        "class": type(error).__name__,
                    }
                    if (details := error_details(error)) is not None:
                        last_error["details"] = details
                    state.ctx["_last_error"] = last_error
                next_step = step.on_error if followup is None else followup.catcher.next
                assert next_step is not None
                entries = [*state.pending, failed]
                self._advance(state, next_step, entries)
                await self.store.checkpoint(execution, entries)
            if next_step is None:
                return
            step_id = next_step

    async def _conclude(
        self, state: RunState, step: StepDef, outcome: Any, started: float, attempt: int | None, instant: bool = False
    ) -> str | None:
        """Checkpoint a step that ended without raising (its ``attempt``, for a step with retriers); the next
        step's id, or ``None`` when the run stops.

        Between two instant steps (``instant``: this one was) nothing is committed: the entries are carried
        to the next checkpoint, which is at the latest the run's end or halt (docs/workflow-language.md,
        section 5)."""
        execution = state.execution
        if isinstance(outcome, Halt):
            data = to_json_value(outcome.data, f"step {step.id!r} halt data")
            entry = self._record(
                state, step, Action.HALTED, duration_ms=elapsed_ms(started), output=data, attempt=attempt
            )
            execution.status = Status.HALTED
            execution.halt_data = data
            execution.recover_to = outcome.resume_step
            execution.ctx = state.ctx
            execution.updated_at = utcnow()
            await workflow_parent.checkpoint_end(self.store, execution, [*state.pending, entry])
            await self.notify("step.halted", {"step_id": step.id, "data": data})
            await self.notify("workflow.halted", {"execution_id": execution.id, "halt": data})
            return None
        if isinstance(outcome, Finish):
            result = workflow_parent.without_link(outcome.result, state.ctx)
        else:
            result = outcome.output
        output = to_json_value(result, f"step {step.id!r} output")
        entry_id = new_id()
        self.check_size(step.id, output, state.ctx, entry_id)
        duration = elapsed_ms(started)
        entry = self._record(
            state, step, Action.COMPLETED, id=entry_id, duration_ms=duration, output=output, attempt=attempt
        )
        if isinstance(outcome, Finish):
            await self._finish(state, output, [*state.pending, entry], step)
            return None
        assert isinstance(outcome, Continue)
        next_step = outcome.next_step or step.next or FINISHED
        entries = [*state.pending, entry]
        self._advance(state, next_step, entries)
        if instant and (next_step == FINISHED or self.executor(self.definition.step(next_step)).is_instant(state)):
            state.carried = entries
        else:
            await self.store.checkpoint(execution, entries)
        if self.listeners:  # the events of every step: built only for someone listening
            await self.emit(Event("step.completed", {"step_id": step.id, "output": output}))
            if next_step != FINISHED:
                await self.emit(
                    Event("step.started", {"step_id": next_step, "step_type": self.definition.step(next_step).type})
                )
        return next_step

    def _advance(self, state: RunState, next_step: str, entries: list[Entry]) -> None:
        execution = state.execution
        execution.current_step = next_step
        execution.ctx = state.ctx
        execution.updated_at = utcnow()
        if next_step != FINISHED:
            entry = self._entry(execution, self.definition.step(next_step), Action.STARTED)
            entries.append(entry)
            state.remember(entry)

    async def _finish(self, state: RunState, result: Any, entries: list[Entry], step: StepDef | None = None) -> None:
        execution = state.execution
        execution.status = Status.COMPLETED
        execution.result = workflow_parent.without_link(result, state.ctx)
        execution.ctx = state.ctx
        execution.updated_at = utcnow()
        await workflow_parent.checkpoint_end(self.store, execution, entries)
        if step is not None:
            await self.notify("step.completed", {"step_id": step.id, "output": execution.result})
        await self.notify("workflow.completed", {"execution_id": execution.id, "output": execution.result})

    async def _fail(self, state: RunState, message: str, entry: Entry | None) -> None:
        execution = state.execution
        execution.status = Status.FAILED
        execution.error = message
        execution.ctx = state.ctx
        execution.updated_at = utcnow()
        if entry is None and execution.current_step and self.definition.has_step(execution.current_step):
            step = self.definition.step(execution.current_step)
            entry = self._entry(execution, step, Action.FAILED, error=message)
        # Entries carried from instant steps hold the pending ones too (a timeout may fall between the two).
        pending = state.carried or state.pending
        state.carried = []
        await workflow_parent.checkpoint_end(self.store, execution, [*pending, *([entry] if entry else [])])
        await self.notify("workflow.failed", {"execution_id": execution.id, "error": message})

    def _record(self, state: RunState, step: StepDef, action: Action, **fields: Any) -> Entry:
        entry = self._entry(state.execution, step, action, **fields)
        state.remember(entry)
        return entry

    def _entry(self, execution: Execution, step: StepDef, action: Action, **fields: Any) -> Entry:
        if "attempt" not in fields:  # a step with retriers: the attempt its context is at, on every entry
            fields["attempt"] = retry.attempt_of(execution.ctx, step)
        return Entry(execution_id=execution.id, step_id=step.id, step_type=step.type, action=action, **fields)


def prepare_resume(execution: Execution, response: Any, approved: bool | None) -> None:
    """Give a halted ``execution`` its ``response`` / ``approved`` and move it to its resume step;
    :class:`~packs.core.workflow.errors.ResumeInputError` (nothing changed) when they do not fit its halt."""
    check_resume(execution, response, approved)
    if response is not None:
        execution.ctx["response"] = to_json_value(response, "the response")
    if approved is not None:
        execution.ctx["approved"] = bool(approved)
    execution.current_step = execution.recover_to or execution.current_step or FINISHED
    execution.halt_data = None
    execution.recover_to = None
