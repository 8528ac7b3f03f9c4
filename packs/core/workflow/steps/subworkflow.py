"""The ``workflow`` step: runs a registered workflow as a child execution on the same store."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from packs.core.workflow.errors import StepError, StepValueError
from packs.core.workflow.model import FINAL_STATUSES, Execution, ExecutionResult, Status
from packs.core.workflow.state import FAILURE
from packs.core.workflow.steps import workflow_parent
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import WorkflowConfig
from packs.core.workflow.steps.workflow_parent import child_halt

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState

CHILDREN = "_child_executions"
CHILD_NAMESPACE = uuid.UUID("5b3f7c1e-0d5e-4c55-9a51-2f1f5c8d9e10")
RUNS_PREFIX = "_child_runs:"
"""Context key (followed by the step's path) of how many children a ``workflow`` step has run to their end."""


class WorkflowStep(StepExecutor):
    """Completed child: its output; halted child: the parent halts; failed child: the step fails.

    A child that goes on by itself (its timer fired, a signal came) resumes the parent when it ends
    (:mod:`.workflow_parent`): the step, resumed, then reads the child's end instead of resuming it.
    """

    type_name = "workflow"

    async def call(self, state: RunState) -> Outcome:
        settings: WorkflowConfig = self.settings
        engine = state.engine.child(settings.workflow_id)
        children: dict[str, str] = state.ctx.setdefault(CHILDREN, {})
        child_id = children.get(state.position)
        child = None if child_id is None or not state.resumed else await self._child_now(state, child_id)
        if child_id is not None and child is not None:
            if child.status in FINAL_STATUSES:  # it ended on its own and woke this step
                return await self._outcome(state, ExecutionResult.of(child), settings)
            if child.status != Status.HALTED:  # it runs on its own (woken meanwhile): its end wakes this step
                return self.halt(child_halt(None, settings.workflow_id, child_id), resume_step=self.step.id)
            work = engine.resume(child_id, response=state.resume_response, approved=state.resume_approved)
        else:
            child_id = self._new_child_id(state)
            children[state.position] = child_id
            work = engine.run(
                input=self.resolve(state, settings.input),
                execution_id=child_id,
                created_by_id=state.execution.created_by_id,  # its approvals' requester is the parent's
                parent=(state.execution.id, state.position),
            )
        with workflow_parent.driving(child_id):
            result = await (asyncio.wait_for(work, settings.timeout) if settings.timeout else work)
        return await self._outcome(state, result, settings)

    async def _child_now(self, state: RunState, child_id: str) -> Execution | None:
        """The child as it is, read under the parent's row lock: a child ending meanwhile (it takes that lock to
        wake the parent) either ended before this read or finds the parent halted again, and wakes it."""
        store = state.engine.store
        lock = getattr(store, "lock_execution", None)
        if lock is not None:
            await lock(state.execution.id)
        child: Execution | None = await store.load(child_id)
        return child

    async def _outcome(self, state: RunState, result: ExecutionResult, settings: WorkflowConfig) -> Outcome:
        if result.status == Status.HALTED:
            data = child_halt(result.halt.data if result.halt else None, settings.workflow_id, result.execution_id)
            if result.halt and result.halt.prompt:
                data["prompt"] = result.halt.prompt
            return self.halt(data, resume_step=self.step.id)
        self._forget(state)
        if result.status == Status.CANCELLED:
            raise StepError(f"sub-workflow {settings.workflow_id!r} was cancelled")
        if result.status == Status.FAILED:
            message = f"sub-workflow {settings.workflow_id!r} failed: {result.error}"
            if await self._refused_a_value(state, result.execution_id):
                raise StepValueError(message)
            raise StepError(message)
        self.set_variable(state, settings.output, result.output)
        return self.continue_(output=result.output)

    async def _refused_a_value(self, state: RunState, child_id: str) -> bool:
        """Whether the failed child failed on a value (its failure's HTTP status is a 4xx: a
        :class:`StepValueError`, a tool's validation or not-found error): the parent then fails on a value too, so
        that its sync start answers 422 as the child's would (docs/workflow-language.md, Sub-workflows)."""
        child = await state.engine.store.load(child_id)
        recorded = None if child is None else child.ctx.get(FAILURE)
        code = recorded.get("status_code") if isinstance(recorded, dict) else None
        return isinstance(code, int) and 400 <= code < 500

    def _new_child_id(self, state: RunState) -> str:
        """The id of the child this pass of the step starts: derived from the parent's id, the step's path and how
        many children the step has run before (a loop's iterations, a router's cycles), so that a parent
        recovered after a crash finds the same child and a later pass starts a new one."""
        runs = state.ctx.get(RUNS_PREFIX + state.position, 0)
        name = f"{state.execution.id}/{state.position}" + (f"/{runs}" if runs else "")
        return str(uuid.uuid5(CHILD_NAMESPACE, name))

    def _forget(self, state: RunState) -> None:
        """The child ended and the step read it: the next pass of the step starts a new one."""
        key = RUNS_PREFIX + state.position
        state.ctx[key] = state.ctx.get(key, 0) + 1
        children: dict[str, str] = state.ctx.get(CHILDREN, {})
        children.pop(state.position, None)
        if not children:
            state.ctx.pop(CHILDREN, None)
        else:
            state.ctx.touch(CHILDREN)  # changed in place
