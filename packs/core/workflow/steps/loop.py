"""The ``loop`` step: ``foreach`` over a list or ``while`` a condition holds, running its ``do`` steps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from packs.core.workflow.errors import StepError
from packs.core.workflow.language.conditions import evaluate
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import LoopConfig

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState

BREAK = "break_loop"


class LoopStep(StepExecutor):
    """Runs the body per item (foreach) or per iteration (while); the results list goes to ``output``."""

    type_name = "loop"

    async def call(self, state: RunState) -> Outcome:
        settings: LoopConfig = self.settings
        if settings.while_ is not None:
            return await self._while(state, settings)
        return await self._foreach(state, settings)

    async def _foreach(self, state: RunState, settings: LoopConfig) -> Outcome:
        items = self.resolve(state, settings.over)
        if not isinstance(items, list):
            raise StepError(f"step {self.step.id!r}: 'over' must resolve to a list, got {type(items).__name__}")
        if len(items) > settings.max:
            raise StepError(f"step {self.step.id!r}: {len(items)} items is over the loop's max of {settings.max}")
        results: list[Any] = []
        try:
            for index, item in enumerate(items):
                state.ctx[settings.as_] = item
                state.ctx[settings.index_as] = index
                results.append(await self._body(state))
        finally:
            state.ctx.pop(settings.as_, None)
            state.ctx.pop(settings.index_as, None)
        self.set_variable(state, settings.output, results)
        return self.continue_(output=results)

    async def _while(self, state: RunState, settings: LoopConfig) -> Outcome:
        assert settings.while_ is not None
        condition = msgspec.to_builtins(settings.while_)
        results: list[Any] = []
        iteration = 0
        try:
            while evaluate(condition, state.variables()):
                if iteration == settings.max:
                    state.ctx.pop("iteration", None)
                    if settings.on_exhausted:
                        self.set_variable(state, settings.output, results)
                        return self.continue_(output=results, next_step=settings.on_exhausted)
                    raise StepError(f"step {self.step.id!r}: while loop passed its max of {settings.max} iterations")
                iteration += 1
                state.ctx["iteration"] = iteration
                results.append(await self._body(state))
                if state.ctx.pop(BREAK, None):
                    break
        finally:
            state.ctx.pop("iteration", None)
        self.set_variable(state, settings.output, results)
        return self.continue_(output=results)

    async def _body(self, state: RunState) -> Any:
        output: Any = None
        for child in self.step.children:
            outcome = await state.run_nested(child, self.step.id)
            output = outcome.output
        return output
