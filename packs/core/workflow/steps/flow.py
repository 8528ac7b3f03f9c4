"""Control steps: ``start``, ``end``, ``assign``, ``router`` and ``halt`` (``approval`` is in ``approval.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from packs.core.workflow.errors import StepValueError
from packs.core.workflow.language.conditions import evaluate
from packs.core.workflow.language.definition import FINISHED
from packs.core.workflow.language.inputs import check_input
from packs.core.workflow.model import utcnow
from packs.core.workflow.steps.base import Finish, Outcome, StepExecutor
from packs.core.workflow.steps.configs import AssignConfig, EndConfig, HaltConfig, RouterConfig

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState


class StartStep(StepExecutor):
    """Checks the input against the workflow's ``inputs``, applies defaults, stores it as ``input``."""

    type_name = "start"
    instant = True

    async def call(self, state: RunState) -> Outcome:
        checked = check_input(state.engine.definition.inputs, state.execution.input)
        self.set_variable(state, "input", checked)
        return self.continue_(output=checked)


class EndStep(StepExecutor):
    """Finishes the execution with ``result`` (default: the whole context)."""

    type_name = "end"
    instant = True

    async def call(self, state: RunState) -> Outcome:
        settings: EndConfig = self.settings
        if settings.result is msgspec.UNSET:
            return Finish(result=dict(state.ctx))
        return Finish(result=self.resolve(state, settings.result))


class AssignStep(StepExecutor):
    """Sets context variables in order; later values see earlier ones."""

    type_name = "assign"
    instant = True

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
    instant = True

    async def call(self, state: RunState) -> Outcome:
        settings: RouterConfig = self.settings
        variables = state.variables()
        for route in settings.routes:
            if evaluate(msgspec.to_builtins(route.when), variables):
                return self.continue_(next_step=route.then)
        if settings.default:
            return self.continue_(next_step=settings.default)
        raise StepValueError(f"step {self.step.id!r}: no route matched and there is no default")


class HaltStep(StepExecutor):
    """Stops as ``halted`` with ``{reason, halted_at, **data}``; resuming continues at ``resume_step`` or ``next``."""

    type_name = "halt"
    instant = True

    async def call(self, state: RunState) -> Outcome:
        settings: HaltConfig = self.settings
        data = {"reason": self.resolve(state, settings.reason), "halted_at": utcnow().isoformat()}
        data.update(self.resolve(state, settings.data))
        data["type"] = "input"  # what the halt waits for (packs.core.workflow.halts)
        return self.halt(data, resume_step=settings.resume_step or self.step.next or FINISHED)
