"""The ``transform`` step: applies list and dict operations to a context value."""

from __future__ import annotations

from typing import TYPE_CHECKING

from packs.core.workflow.language.transforms import apply
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import TransformConfig

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState


class TransformStep(StepExecutor):
    """``output`` = ``expression`` applied to ctx variable ``input`` (default: the whole context)."""

    type_name = "transform"
    instant = True

    async def call(self, state: RunState) -> Outcome:
        settings: TransformConfig = self.settings
        value = state.ctx.get(settings.input) if settings.input else dict(state.ctx)
        result = apply(value, settings.expression)
        self.set_variable(state, settings.output, result)
        return self.continue_(output=result)
