"""The ``parallel`` step: branches run concurrently on the same starting state; ``wait`` all, any or N."""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

from packs.core.workflow.errors import StepError
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import ParallelConfig

if TYPE_CHECKING:
    from packs.core.workflow.language.definition import StepDef
    from packs.core.workflow.state import RunState


class ParallelStep(StepExecutor):
    """Runs every branch; merges their contexts in branch order; outputs in branch order (null if unfinished)."""

    type_name = "parallel"

    async def call(self, state: RunState) -> Outcome:
        settings: ParallelConfig = self.settings
        branches = self.step.children
        needed = len(branches) if settings.wait == "all" else 1 if settings.wait == "any" else int(settings.wait)
        if needed > len(branches):
            raise StepError(f"step {self.step.id!r}: wait {needed} but only {len(branches)} branches")
        start = copy.deepcopy(state.ctx)
        lock = asyncio.Lock() if getattr(state.store, "serializes_branches", False) else None
        forks = [state.fork(copy.deepcopy(start), f"{self.step.id}#{index}", lock) for index in range(len(branches))]
        tasks = [asyncio.create_task(self._branch(fork, branch)) for fork, branch in zip(forks, branches, strict=True)]
        outputs: list[Any] = [None] * len(branches)
        succeeded: set[int] = set()
        errors: list[BaseException] = []
        try:
            pending = set(tasks)
            while pending and len(succeeded) < needed:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    index = tasks.index(task)
                    if task.exception() is not None:
                        errors.append(task.exception())  # type: ignore[arg-type]
                        if settings.wait == "all" or len(branches) - len(errors) < needed:
                            raise errors[0]
                    else:
                        outputs[index] = task.result()
                        succeeded.add(index)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for index in sorted(succeeded):
            for key, value in forks[index].ctx.items():
                if key not in start or start[key] != value:
                    state.ctx[key] = value
        self.set_variable(state, settings.output, outputs)
        return self.continue_(output=outputs)

    async def _branch(self, fork: RunState, branch: StepDef) -> Any:
        outcome = await fork.run_nested(branch, self.step.id)
        return outcome.output
