"""State changes asked of an execution from outside its run: cancel, queued resume, redrive.

Each is a compare-and-set on the execution's status (``QueueStore.transition``), so two callers
racing for the same change cannot both win, and a worker running the execution loses its lease:
its next checkpoint writes nothing and it stops at that step boundary.
"""

from __future__ import annotations

from typing import Any

from packs.core.workflow.engine import RESUME_REQUEST, prepare_resume
from packs.core.workflow.errors import ExecutionNotFoundError, ExecutionStateError
from packs.core.workflow.model import Execution, Status, utcnow
from packs.core.workflow.state import FAILURE, to_json_value
from packs.core.workflow.steps.workflow_parent import waited_child
from packs.core.workflow.stores.protocol import QueueStore

CANCELLABLE = (Status.PENDING, Status.RUNNING, Status.HALTED)


async def load_execution(store: QueueStore, execution_id: str) -> Execution:
    """The execution ``execution_id``; :class:`ExecutionNotFoundError` when there is none."""
    execution = await store.load(execution_id)
    if execution is None:
        raise ExecutionNotFoundError(f"no execution {execution_id}")
    return execution


async def cancel(store: QueueStore, execution_id: str) -> Execution:
    """Cancel a pending, running or halted execution; :class:`ExecutionStateError` when it has ended."""
    while True:
        execution = await load_execution(store, execution_id)
        if execution.status not in CANCELLABLE:
            raise ExecutionStateError(
                f"execution {execution_id} is {execution.status}; only a pending, running or halted execution "
                "can be cancelled"
            )
        observed = execution.status
        execution.status = Status.CANCELLED
        execution.error = "Cancelled"
        execution.updated_at = utcnow()
        async with store.unit():
            cancelled = await store.transition(execution, [observed])
            cancel_timers = getattr(store, "cancel_timers", None)
            if cancelled and cancel_timers is not None:
                await cancel_timers(execution_id)
            if cancelled and (child_id := waited_child(execution)) is not None:
                await _cancel_child(store, child_id)  # a sub-workflow's child goes with its parent
        if cancelled:
            return execution


async def _cancel_child(store: QueueStore, child_id: str) -> None:
    """Cancel the child a cancelled parent's ``workflow`` step waited for, and its timers and children, in the open
    unit; a child that ended already is left as it is."""
    child = await store.load(child_id)
    if child is None or child.status not in CANCELLABLE:
        return
    observed = child.status
    child.status = Status.CANCELLED
    child.error = "Cancelled with its parent"
    child.updated_at = utcnow()
    if not await store.transition(child, [observed]):
        return
    cancel_timers = getattr(store, "cancel_timers", None)
    if cancel_timers is not None:
        await cancel_timers(child_id)
    if (grandchild := waited_child(child)) is not None:
        await _cancel_child(store, grandchild)


async def queue_resume(
    store: QueueStore, execution_id: str, response: Any = None, approved: bool | None = None
) -> Execution:
    """Turn a halted execution into a queued (``pending``) one that continues with ``response`` / ``approved``."""
    execution = await load_execution(store, execution_id)
    if execution.status != Status.HALTED:
        raise ExecutionStateError(f"execution {execution_id} is {execution.status}; only a halted execution can resume")
    prepare_resume(execution, response, approved)
    execution.ctx[RESUME_REQUEST] = {
        "response": to_json_value(response, "the response"),
        "approved": None if approved is None else bool(approved),
    }
    execution.status = Status.PENDING
    execution.updated_at = utcnow()
    if not await store.transition(execution, [Status.HALTED]):
        raise ExecutionStateError(
            f"execution {execution_id} is no longer halted; it was resumed or cancelled meanwhile"
        )
    return execution


async def queue_redrive(store: QueueStore, execution_id: str) -> Execution:
    """Queue a failed execution again from its failed step, keeping what the earlier steps recorded."""
    execution = await load_execution(store, execution_id)
    if execution.status != Status.FAILED:
        raise ExecutionStateError(
            f"execution {execution_id} is {execution.status}; only a failed execution can be retried"
        )
    execution.status = Status.PENDING
    execution.error = None
    execution.ctx.pop(FAILURE, None)
    execution.updated_at = utcnow()
    if not await store.transition(execution, [Status.FAILED]):
        raise ExecutionStateError(f"execution {execution_id} is no longer failed; it was retried meanwhile")
    return execution
