"""A sub-workflow's child tells its parent: the parent halted at a ``workflow`` step goes on when its child ends
(docs/workflow-language.md, step type ``workflow``, and Sub-workflows that wait).

A child execution keeps its parent under :data:`PARENT` in its ctx (``{execution_id, step}``, set when the
``workflow`` step starts it). Whenever the child ends or halts on its own (a timer, a signal, a decision on
the child, a resume of the child, a worker's recovery), :func:`checkpoint_end` writes the child's checkpoint
and, in the same unit, looks at the parent:

- halted at that ``workflow`` step waiting for this child, and the child ended (completed, failed or
  cancelled): the parent becomes a queued resume (a compare-and-set on ``halted``, so it happens once),
  and its id is noted for delivery (:func:`collecting`); the ``workflow`` step then reads the child's end;
- halted there and the child halted again: the parent's halt data shows the child's new halt (and so does
  its own parent's), so what the parent waits for (an approval, a signal) is what the child waits for;
- running (the parent drives the child itself) or anything else: nothing.

A worker delivers the noted parents to its queue once its run has committed; the engine, called with no
worker around it (a script, the CLI), drives them itself. A parent left queued (its process died first)
is queued again by the recovery sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

from packs.core.workflow.gathering import Gathering
from packs.core.workflow.halts import SUB_WORKFLOW
from packs.core.workflow.model import FINAL_STATUSES, Entry, Execution, Status, utcnow
from packs.core.workflow.signals import queue_woken

PARENT = "_parent"
"""Context key of a child execution: ``{"execution_id": <parent>, "step": <the workflow step's path>}``."""

HALT_TYPE = SUB_WORKFLOW
"""``halt_data.type`` of a parent halted at a ``workflow`` step, its child's halt under ``child``."""

_woken: Gathering[str] = Gathering("workflow_parents_woken")
_driven: ContextVar[frozenset[str]] = ContextVar("workflow_children_driven", default=frozenset())


def link(execution: Execution, parent_id: str, step_path: str) -> None:
    """Make ``execution`` (a new child, not saved yet) the child of ``parent_id``'s ``workflow`` step ``step_path``."""
    execution.ctx[PARENT] = {"execution_id": parent_id, "step": step_path}


def parent_of(execution: Execution) -> str | None:
    """The id of the parent execution of a sub-workflow's child, or ``None``."""
    kept = execution.ctx.get(PARENT)
    parent = kept.get("execution_id") if isinstance(kept, dict) else None
    return parent if isinstance(parent, str) else None


def waited_child(execution: Execution) -> str | None:
    """The id of the child a parent halted at a ``workflow`` step waits for (its halt data names it), or ``None``."""
    halt = execution.halt_data or {}
    child = halt.get("child_execution_id") if halt.get("type") == HALT_TYPE else None
    return child if isinstance(child, str) else None


def without_link(result: Any, ctx: dict[str, Any]) -> Any:
    """``result`` without the parent link when it is (a copy of) the child's whole ctx: a child's output is
    what the workflow made, not the engine's bookkeeping."""
    if isinstance(result, dict) and PARENT in result and result.get(PARENT) == ctx.get(PARENT):
        return {key: value for key, value in result.items() if key != PARENT}
    return result


def child_halt(result_halt: dict[str, Any] | None, workflow_id: str, child_id: str) -> dict[str, Any]:
    """The halt data of a parent whose child ``child_id`` of ``workflow_id`` halts with ``result_halt``."""
    child = result_halt or {}
    data: dict[str, Any] = {
        "type": HALT_TYPE,
        "workflow_id": workflow_id,
        "child_execution_id": child_id,
        "child": child,
    }
    prompt = child.get("prompt")
    if isinstance(prompt, str) and prompt:
        data["prompt"] = prompt
    return data


def collecting(*, fresh: bool = False) -> AbstractContextManager[list[str] | None]:
    """Gather the ids of the parents woken in the block, for their delivery once it has committed.

    ``None`` when an enclosing block gathers them already (unless ``fresh``: a worker always keeps its own).
    """
    return _woken.block() if fresh else _woken.joining()


@contextmanager
def driving(child_id: str) -> Iterator[None]:
    """The block is the parent's ``workflow`` step running its child ``child_id``: the parent runs, so the child's
    end has nobody to tell (and its checkpoint reads no parent)."""
    token = _driven.set(_driven.get() | {child_id})
    try:
        yield
    finally:
        _driven.reset(token)


async def checkpoint_end(store: Any, execution: Execution, entries: list[Entry]) -> None:
    """Checkpoint ``execution`` as it ends or halts; a child tells its waiting parent in the same unit."""
    if parent_of(execution) is None or execution.id in _driven.get():
        await store.checkpoint(execution, entries)
        return
    async with store.unit():
        await store.checkpoint(execution, entries)
        await tell_parent(store, execution)


async def tell_parent(store: Any, child: Execution) -> None:
    """In the open unit: the parent halted waiting for ``child`` goes on (the child ended) or shows the child's
    new halt (see the module docstring); anything else is left as it is."""
    parent_id = parent_of(child)
    if parent_id is None:
        return
    lock = getattr(store, "lock_execution", None)
    if lock is not None:
        await lock(parent_id)  # a resume or cancel of the parent and this change take turns
    parent: Execution | None = await store.load(parent_id)
    if parent is None or parent.status != Status.HALTED:
        return
    halt = parent.halt_data or {}
    if halt.get("type") != HALT_TYPE or halt.get("child_execution_id") != child.id:
        return
    if child.status == Status.HALTED:
        parent.halt_data = child_halt(child.halt_data, str(halt.get("workflow_id")), child.id)
        parent.updated_at = utcnow()
        if await store.transition(parent, [Status.HALTED]):
            await tell_parent(store, parent)
        return
    if child.status not in FINAL_STATUSES:
        return
    if await queue_woken(store, parent):
        _woken.note(parent.id)
