"""The state of one execution while the engine runs it: context, history, nested steps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import msgspec

from packs.core.workflow.context import Context, as_context
from packs.core.workflow.errors import StepError
from packs.core.workflow.language.references import ALWAYS_AVAILABLE
from packs.core.workflow.model import Action, Entry, Execution, new_id, utcnow
from packs.core.workflow.outcomes import Continue, Halt

if TYPE_CHECKING:
    from packs.core.workflow.engine import Engine, StepUnit
    from packs.core.workflow.language.definition import StepDef


class Variables(Mapping[str, Any]):
    """What ``$references`` see: ``input``, ``now``, ``history``, ``execution`` and the context."""

    def __init__(self, state: RunState) -> None:
        self._state = state

    def __getitem__(self, key: str) -> Any:
        state = self._state
        if key == "input":
            # The start step stores the input with its defaults applied; the execution row keeps what was sent.
            return state.ctx.get("input", state.execution.input)
        if key == "now":
            return utcnow().isoformat()
        if key == "history":
            if state.history is None:
                raise StepError(
                    "$history is not kept for this workflow: no step of it references $history; a step type "
                    "whose code reads it sets reads_history = True (docs/workflow-language.md, section 1)"
                )
            return [entry.as_history() for entry in state.history]
        if key == "execution":
            execution = state.execution
            return {
                "id": execution.id,
                "workflow_id": execution.workflow_id,
                "step_id": state.position,
                "idempotency_key": f"{execution.id}:{state.position}",
                "attempt": execution.attempts,
            }
        return state.ctx[key]

    def __iter__(self) -> Iterator[str]:
        yield from ALWAYS_AVAILABLE
        yield from (key for key in self._state.ctx if key not in ALWAYS_AVAILABLE)

    def __len__(self) -> int:
        return len(ALWAYS_AVAILABLE | set(self._state.ctx))


def to_json_value(value: Any, what: str) -> Any:
    """``value`` as JSON-ready builtins (UUIDs and datetimes become strings); :class:`StepError` when impossible."""
    try:
        return msgspec.to_builtins(value)
    except TypeError as error:
        raise StepError(f"{what} is not JSON-serializable: {error}") from None


class RunState:
    """An execution being run: its context, the entries recorded so far, and the engine running it."""

    def __init__(
        self,
        engine: Engine,
        execution: Execution,
        history: list[Entry] | None,
        *,
        ctx: dict[str, Any] | None = None,
        pending: list[Entry] | None = None,
        position: str = "",
    ) -> None:
        self.engine = engine
        self.execution = execution
        self.history = history
        """The entries recorded so far (``$history``), or ``None`` when the run does not keep them: its
        definition never reads ``$history`` (:attr:`Engine.keeps_history`), so resume and recover skip
        reading them."""
        if ctx is None:
            ctx = execution.ctx = as_context(execution.ctx)
        self.ctx: Context = as_context(ctx)
        """The context steps read and change (a :class:`~packs.core.workflow.context.Context`: it records the
        top-level keys set or removed, for the size check and the store)."""
        self.pending: list[Entry] = [] if pending is None else pending
        self.carried: list[Entry] = []
        """Entries of instant steps not committed yet: the next step's checkpoint writes them first."""
        self.position = position
        self.resume_response: Any = None
        self.resume_approved: bool | None = None
        self.resumed = False
        self.branch_lock: asyncio.Lock | None = None
        self.step_unit: StepUnit | None = None
        """The unit of the step the engine runs, which a loop commits between iterations (not in branches)."""

    @property
    def store(self) -> Any:
        """The engine's store."""
        return self.engine.store

    def variables(self) -> Variables:
        """The mapping ``$references`` resolve against."""
        return Variables(self)

    def resolve_service(self, name: str) -> Any:
        """The service registered as ``name``, through the engine's resolver only."""
        return self.engine.resolve_service(name)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint of the step's transaction (undoes only its own writes when it raises).

        Parallel branches share the step's transaction; on a store whose units are database
        transactions (``serializes_branches``), their calls take turns, since one session cannot
        serve two queries at once.
        """
        if self.branch_lock is None:
            async with self.engine.store.savepoint():
                yield
            return
        async with self.branch_lock, self.engine.store.savepoint():
            yield

    def fork(self, ctx: dict[str, Any], position: str, lock: asyncio.Lock | None) -> RunState:
        """A state for a parallel branch: its own context copy, the same execution and entries."""
        branch = RunState(self.engine, self.execution, self.history, ctx=ctx, pending=self.pending, position=position)
        branch.branch_lock = lock
        return branch

    def entry(self, step_path: str, step: StepDef, action: Action, **fields: Any) -> Entry:
        """A new entry for this execution."""
        return Entry(execution_id=self.execution.id, step_id=step_path, step_type=step.type, action=action, **fields)

    def add(self, entry: Entry) -> None:
        """Queue ``entry`` for the current step's checkpoint; it is part of ``$history`` at once."""
        self.pending.append(entry)
        self.remember(entry)

    def remember(self, entry: Entry) -> None:
        """Add ``entry`` to ``$history`` (when the run keeps it)."""
        if self.history is not None:
            self.history.append(entry)

    async def run_nested(self, step: StepDef, parent_path: str) -> Continue:
        """Run a loop-body or branch step, recording its entries as ``parent:child``."""
        path = f"{parent_path}:{step.id}"
        executor = self.engine.executor(step)
        self.add(self.entry(path, step, Action.STARTED))
        await self.engine.notify("step.started", {"step_id": path, "step_type": step.type})
        started = time.monotonic()
        previous, self.position = self.position, path
        try:
            outcome = await executor.call(self)
            if not isinstance(outcome, Continue):
                raise StepError(_cannot_stop_nested(path, outcome))
            output = to_json_value(outcome.output, f"step {path!r} output")
            entry_id = new_id()
            self.engine.check_size(path, output, self.ctx, entry_id)
        except Exception as error:
            message = describe(error)
            self.add(self.entry(path, step, Action.FAILED, duration_ms=elapsed_ms(started), error=message))
            await self.engine.notify("step.failed", {"step_id": path, "error": message})
            raise
        finally:
            self.position = previous
        self.add(self.entry(path, step, Action.COMPLETED, id=entry_id, duration_ms=elapsed_ms(started), output=output))
        await self.engine.notify("step.completed", {"step_id": path, "output": output})
        return Continue(output=output, next_step=outcome.next_step)


def _cannot_stop_nested(path: str, outcome: object) -> str:
    """Why a step inside a loop body or a parallel branch may not halt or end the run: the loop or the branches
    would go on without it (docs/workflow-language.md, section 7)."""
    what = "halted" if isinstance(outcome, Halt) else "ended the run"
    child = outcome.data.get("child_execution_id") if isinstance(outcome, Halt) else None
    left = f"; its sub-workflow execution {child} is left halted" if child else ""
    return f"step {path!r} {what} inside a loop body or a parallel branch, where steps run to completion{left}"


def error_details(error: BaseException) -> dict[str, Any] | None:
    """The ``details`` an error carries (a tool's ``ValidationError`` names its fields), as JSON, or ``None``."""
    details = getattr(error, "details", None)
    if not isinstance(details, dict) or not details:
        return None
    try:
        converted: dict[str, Any] = msgspec.to_builtins(details)
    except TypeError:
        return {str(key): str(value) for key, value in details.items()}
    return converted


FAILURE = "_failure"
"""Context key of what failed a failed execution (see :func:`failure`); a redrive drops it."""

HIDDEN_STATEMENT = "a database statement failed; the worker's log has the statement and its parameters"


def error_message(error: BaseException) -> str:
    """The message an execution records and answers for ``error``: its own, except for a database error
    that quotes its SQL statement and parameters (SQLAlchemy's ``StatementError``, recognised by its
    ``statement`` and ``params``), which only the log sees (``docs/http-api.md``, Responses)."""
    if hasattr(error, "statement") and hasattr(error, "params"):
        return HIDDEN_STATEMENT
    return str(error)


def describe(error: BaseException) -> str:
    """``"ExceptionClass: message"`` (:func:`error_message`), followed by the error's details as JSON when it
    has some."""
    details = error_details(error)
    suffix = "" if details is None else f" {msgspec.json.encode(details).decode()}"
    return f"{type(error).__name__}: {error_message(error)}{suffix}"


def failure(error: BaseException, step_id: str) -> dict[str, Any]:
    """What the engine keeps of the error that failed ``step_id`` (``docs/workflow-language.md``, persistence):
    the step, the error's class and message, its ``details`` and the HTTP status its class stands for."""
    status_code = getattr(error, "status_code", None)
    return {
        "step": step_id,
        "class": type(error).__name__,
        "message": error_message(error),
        "details": error_details(error),
        "status_code": status_code if isinstance(status_code, int) else None,
    }


def elapsed_ms(started: float) -> int:
    """Milliseconds since ``started`` (a ``time.monotonic()`` reading)."""
    return int((time.monotonic() - started) * 1000)
