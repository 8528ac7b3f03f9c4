"""The ``loop`` step: ``foreach`` over a list or ``while`` a condition holds, running its ``do`` steps."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import msgspec

from packs.core.workflow.errors import StepError, StepValueError
from packs.core.workflow.language.conditions import evaluate
from packs.core.workflow.model import Action
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import LoopConfig

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState

BREAK = "break_loop"
ITERATION = "iteration"
"""The while loop's variable: its iteration, from 1."""

CURSOR = "_loop"
"""Context key of a running loop's cursor, ``{"step": <loop id>, "next": <iterations done>}``, checkpointed
with the iterations done (docs/workflow-language.md, section 5); removed when the loop ends."""

CHECKPOINT_SECONDS = 0.25
"""Without ``checkpoint_every``, a loop commits its iterations once this long has passed since its last
commit: a fast loop writes a few checkpoints a second whatever its length, a slow one checkpoints each
iteration, and a crash re-runs at most about this much work (docs/workflow-language.md, section 5)."""


class LoopStep(StepExecutor):
    """Runs the body per item (foreach) or per iteration (while); the results list goes to ``output``.

    A loop the engine runs as a step (not one nested in a loop body or a parallel branch) commits its
    iterations every ``checkpoint_every`` iterations (by default every :data:`CHECKPOINT_SECONDS`), with
    its cursor; run again after a crash, it goes on
    from the first iteration not committed, the results of the others read from their entries.
    """

    type_name = "loop"

    async def call(self, state: RunState) -> Outcome:
        settings: LoopConfig = self.settings
        if settings.while_ is not None:
            return await self._while(state, settings)
        return await self._foreach(state, settings)

    async def _foreach(self, state: RunState, settings: LoopConfig) -> Outcome:
        items = self.resolve(state, settings.over)
        if not isinstance(items, list):
            raise StepValueError(f"step {self.step.id!r}: 'over' must resolve to a list, got {type(items).__name__}")
        if len(items) > settings.max:
            raise StepValueError(f"step {self.step.id!r}: {len(items)} items is over the loop's max of {settings.max}")
        checkpoints = self._checkpoints(state)
        shadowed = self._shadowed(state, (settings.as_, settings.index_as))
        start, results = await self._resume_point(state) if checkpoints else (0, [])
        committed = time.monotonic()
        try:
            for index in range(start, len(items)):
                state.ctx[settings.as_] = items[index]
                state.ctx[settings.index_as] = index
                results.append(await self._body(state))
                state.ctx.pop(BREAK, None)  # a foreach runs every item: a body's break_loop ends while loops only
                done = index + 1
                if checkpoints and done < len(items) and self._due(settings, done, committed):
                    await self._checkpoint(state, done, shadowed)
                    committed = time.monotonic()
        finally:
            self._restore(state, (settings.as_, settings.index_as), shadowed)
        self.set_variable(state, settings.output, results)
        return self.continue_(output=results)

    async def _while(self, state: RunState, settings: LoopConfig) -> Outcome:
        assert settings.while_ is not None
        condition = msgspec.to_builtins(settings.while_)
        checkpoints = self._checkpoints(state)
        shadowed = self._shadowed(state, (ITERATION,))
        iteration, results = await self._resume_point(state) if checkpoints else (0, [])
        committed = time.monotonic()
        try:
            while evaluate(condition, state.variables()):
                if iteration == settings.max:
                    self._restore(state, (ITERATION,), shadowed)
                    if settings.on_exhausted:
                        self.set_variable(state, settings.output, results)
                        return self.continue_(output=results, next_step=settings.on_exhausted)
                    raise StepError(f"step {self.step.id!r}: while loop passed its max of {settings.max} iterations")
                iteration += 1
                state.ctx[ITERATION] = iteration
                results.append(await self._body(state))
                if state.ctx.pop(BREAK, None):
                    break
                if checkpoints and self._due(settings, iteration, committed):
                    await self._checkpoint(state, iteration, shadowed)
                    committed = time.monotonic()
        finally:
            self._restore(state, (ITERATION,), shadowed)
        self.set_variable(state, settings.output, results)
        return self.continue_(output=results)

    async def _body(self, state: RunState) -> Any:
        output: Any = None
        for child in self.step.children:
            outcome = await state.run_nested(child, self.step.id)
            output = outcome.output
        return output

    def _checkpoints(self, state: RunState) -> bool:
        """Whether this loop commits its iterations: it is the step the engine runs, not a nested one."""
        return state.step_unit is not None and state.position == self.step.id and bool(self.step.children)

    @staticmethod
    def _due(settings: LoopConfig, done: int, committed: float) -> bool:
        """Whether to commit after ``done`` iterations: every ``checkpoint_every`` iterations when the loop
        sets it, else once :data:`CHECKPOINT_SECONDS` have passed since the last commit (``committed``)."""
        if settings.checkpoint_every is not None:
            return done % settings.checkpoint_every == 0
        return time.monotonic() - committed >= CHECKPOINT_SECONDS

    async def _checkpoint(self, state: RunState, done: int, shadowed: dict[str, Any]) -> None:
        """Commit the iterations run since the last checkpoint, with the cursor after them (and the values the
        loop's variables hid, to give back after a crash too)."""
        cursor: dict[str, Any] = {"step": self.step.id, "next": done}
        if shadowed:
            cursor["shadowed"] = shadowed
        state.ctx[CURSOR] = cursor
        await state.engine.checkpoint_iteration(state)

    def _shadowed(self, state: RunState, names: tuple[str, ...]) -> dict[str, Any]:
        """The values the loop's variables ``names`` hide while it runs (an outer loop's ``item``, a variable set
        before the loop): the context's, or those a checkpoint of this loop kept when it goes on after a crash."""
        cursor = state.ctx.get(CURSOR)
        if isinstance(cursor, dict) and cursor.get("step") == self.step.id:
            kept = cursor.get("shadowed")
            return dict(kept) if isinstance(kept, dict) else {}
        return {name: state.ctx[name] for name in names if name in state.ctx}

    @staticmethod
    def _restore(state: RunState, names: tuple[str, ...], shadowed: dict[str, Any]) -> None:
        """The loop ended: its variables ``names`` get back the values they hid, or are removed; so is its cursor."""
        for name in names:
            if name in shadowed:
                state.ctx[name] = shadowed[name]
            else:
                state.ctx.pop(name, None)
        state.ctx.pop(CURSOR, None)

    async def _resume_point(self, state: RunState) -> tuple[int, list[Any]]:
        """Where a checkpointed run of this loop stopped: the iterations done and their results.

        The cursor says how many iterations were committed; each one's result is the output of its last
        body step, whose ``completed`` entries are the last ones of that path (an iteration under way at a
        crash committed none).
        """
        cursor = state.ctx.pop(CURSOR, None)
        if not isinstance(cursor, dict) or cursor.get("step") != self.step.id:
            return 0, []
        done = int(cursor["next"])
        if done <= 0:
            return 0, []
        last = f"{self.step.id}:{self.step.children[-1].id}"
        outputs = [
            entry.output
            for entry in await state.store.entries(state.execution.id)
            if entry.step_id == last and entry.action == Action.COMPLETED
        ]
        if len(outputs) < done:
            raise StepError(
                f"step {self.step.id!r}: the cursor says {done} iterations were done, the entries {len(outputs)}"
            )
        return done, outputs[len(outputs) - done :]
