"""Control steps: ``start``, ``end``, ``assign``, ``router``, ``halt`` and ``approval``."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from packs.core.workflow.errors import StepError
from packs.core.workflow.language.conditions import evaluate
from packs.core.workflow.language.definition import FINISHED
from packs.core.workflow.language.inputs import check_input
from packs.core.workflow.model import utcnow
from packs.core.workflow.steps.base import Finish, Outcome, StepExecutor
from packs.core.workflow.steps.configs import ApprovalConfig, AssignConfig, EndConfig, HaltConfig, RouterConfig

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState


class StartStep(StepExecutor):
    """Checks the input against the workflow's ``inputs``, applies defaults, stores it as ``input``."""

    type_name = "start"

    async def call(self, state: RunState) -> Outcome:
        checked = check_input(state.engine.definition.inputs, state.execution.input)
        state.execution.input = checked
        self.set_variable(state, "input", checked)
        return self.continue_(output=checked)


class EndStep(StepExecutor):
    """Finishes the execution with ``result`` (default: the whole context)."""

    type_name = "end"

    async def call(self, state: RunState) -> Outcome:
        settings: EndConfig = self.settings
        if settings.result is msgspec.UNSET:
            return Finish(result=dict(state.ctx))
        return Finish(result=self.resolve(state, settings.result))


class AssignStep(StepExecutor):
    """Sets context variables in order; later values see earlier ones."""

    type_name = "assign"

    async def call(self, state: RunState) -> Outcome:
        settings: AssignConfig = self.settings
        assigned: dict[str, Any] = {}
        for key, value in settings.set.items():
            assigned[key] = self.resolve(state, value)
            state.ctx[key] = assigned[key]
        return self.continue_(output=assigned)


class RouterStep(StepExecutor):
    """Goes to the first route whose condition holds, else to ``default``, else fails."""

    type_name = "router"

    async def call(self, state: RunState) -> Outcome:
        settings: RouterConfig = self.settings
        variables = state.variables()
        for route in settings.routes:
            if evaluate(msgspec.to_builtins(route.when), variables):
                return self.continue_(next_step=route.then)
        if settings.default:
            return self.continue_(next_step=settings.default)
        raise StepError(f"step {self.step.id!r}: no route matched and there is no default")


class HaltStep(StepExecutor):
    """Stops as ``halted`` with ``{reason, halted_at, **data}``; resuming continues at ``resume_step`` or ``next``."""

    type_name = "halt"

    async def call(self, state: RunState) -> Outcome:
        settings: HaltConfig = self.settings
        data = {"reason": self.resolve(state, settings.reason), "halted_at": utcnow().isoformat()}
        data.update(self.resolve(state, settings.data))
        return self.halt(data, resume_step=settings.resume_step or self.step.next or FINISHED)


PENDING_APPROVALS = "_pending_approvals"


class ApprovalStep(StepExecutor):
    """Halts for a decision; on resume goes to ``next`` (approved), ``on_reject`` or ``on_timeout``."""

    type_name = "approval"

    async def call(self, state: RunState) -> Outcome:
        settings: ApprovalConfig = self.settings
        pending: dict[str, str] = state.ctx.setdefault(PENDING_APPROVALS, {})
        requested_at = pending.get(self.step.id)
        if requested_at is None or not state.resumed:
            requested = utcnow().isoformat()
            pending[self.step.id] = requested
            return self.halt(
                {
                    "type": "approval",
                    "prompt": self.resolve(state, settings.prompt),
                    "context": self.resolve(state, settings.context),
                    "approvers": settings.approvers,
                    "timeout": settings.timeout,
                    "requested_at": requested,
                },
                resume_step=self.step.id,
            )
        if settings.timeout is not None:
            waited = (utcnow() - datetime.datetime.fromisoformat(requested_at)).total_seconds()
            if waited > settings.timeout:
                self._clear(state, pending)
                if settings.on_timeout:
                    return self.continue_(output={"approved": None, "timed_out": True}, next_step=settings.on_timeout)
                raise StepError(f"step {self.step.id!r}: approval timed out after {settings.timeout:g}s")
        if state.resume_approved is None:
            raise StepError(f"step {self.step.id!r}: resume an approval with approved=true or approved=false")
        self._clear(state, pending)
        if state.resume_approved:
            return self.continue_(output={"approved": True})
        if settings.on_reject:
            return self.continue_(output={"approved": False}, next_step=settings.on_reject)
        raise StepError("Rejected")

    def _clear(self, state: RunState, pending: dict[str, str]) -> None:
        pending.pop(self.step.id, None)
        if not pending:
            state.ctx.pop(PENDING_APPROVALS, None)
