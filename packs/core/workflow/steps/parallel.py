"""The ``parallel`` step: branches run concurrently on the same starting state; ``wait`` all, any or N."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packs.core.workflow.errors import LeaseLostError, StepError
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import ParallelConfig

if TYPE_CHECKING:
    from packs.core.workflow.language.definition import StepDef
    from packs.core.workflow.state import RunState

CURSOR = "_parallel"
"""Context key of a running parallel step's cursor, ``{"step": <parallel id>, "done": {"<branch index>":
{"output": <its output>, "ctx": <the ctx keys it changed>}}}``, checkpointed as each branch finishes
(docs/workflow-language.md, section 5); removed when the step ends."""

WITHOUT_DATABASE = frozenset({"assign", "transform", "router", "start", "end", "loop"})
"""Step types whose own code never uses the database (a ``loop``'s body steps are looked at one by one): a
branch made only of them runs outside any unit, taking its turn on the execution's connection only for its
checkpoint."""


@dataclass(frozen=True)
class Finished:
    """What a branch that succeeded leaves: its output and the ctx keys it changed (merged in branch order)."""

    output: Any
    changes: dict[str, Any]


def changes(start: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    """The keys of ``ctx`` that are new or different from ``start``."""
    return {key: value for key, value in ctx.items() if key not in start or start[key] != value}


def steps_of(step: StepDef) -> Iterator[StepDef]:
    """``step`` and every step nested in it."""
    yield step
    for child in step.children:
        yield from steps_of(child)


def may_use_database(step: StepDef) -> bool:
    """Whether ``step`` (or a step nested in it) is of a type that may use the database."""
    return any(nested.type not in WITHOUT_DATABASE for nested in steps_of(step))


class Turn:
    """One branch's hold on the branches' shared lock (``None``: branches need no turns), taken at most once."""

    __slots__ = ("held", "turns")

    def __init__(self, turns: asyncio.Lock | None) -> None:
        self.turns = turns
        self.held = False

    async def take(self) -> None:
        """Wait for this branch's turn (nothing when it has it already, or when there are no turns)."""
        if self.turns is not None and not self.held:
            await self.turns.acquire()
            self.held = True

    def give(self) -> None:
        """End this branch's turn, if it has one."""
        if self.held:
            assert self.turns is not None
            self.held = False
            self.turns.release()


class Race:
    """The branches of one run of a parallel step: which succeeded, how many failed, and when it is decided.

    Branches report in their turn (when they take turns), so the branches a decision cancels are waiting
    for a turn or running steps that use no database: none is cancelled in the middle of a statement.
    """

    def __init__(self, wait_all: bool, needed: int, total: int, have: int) -> None:
        self.wait_all = wait_all
        self.needed = needed
        self.total = total
        self.have = have
        """Branches that succeeded in an earlier run (read from the cursor)."""
        self.tasks: list[asyncio.Task[None]] = []
        self.succeeded: dict[int, Finished] = {}
        self.failures = 0
        self.error: BaseException | None = None
        """The error that fails the step, once one does."""

    def succeed(self, index: int, finished: Finished) -> None:
        """Branch ``index`` succeeded; once enough have, the others are cancelled."""
        self.succeeded[index] = finished
        if self.error is None and self.have + len(self.succeeded) >= self.needed:
            self._stop_others()

    def fail(self, error: BaseException) -> None:
        """A branch failed with ``error``; it fails the step under ``wait: all``, once too few can succeed, or
        when it stops the run whatever ``wait`` says (a lost lease, or what no step catches)."""
        self.failures += 1
        stops_the_run = isinstance(error, LeaseLostError) or not isinstance(error, Exception)
        too_few = self.wait_all or self.total - self.failures < self.needed
        if self.error is None and (stops_the_run or too_few):
            self.error = error
            self._stop_others()

    def _stop_others(self) -> None:
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current and not task.done():
                task.cancel()


class ParallelStep(StepExecutor):
    """Runs every branch; merges their contexts in branch order; outputs in branch order (null if unfinished).

    A parallel step the engine runs as a step (not one nested in a loop body or a branch) checkpoints each
    branch as it succeeds, with its output and ctx changes in the cursor :data:`CURSOR`; run again after a
    crash, it runs only the branches not checkpointed. Each branch then holds a unit of its own, so its
    writes commit with its checkpoint or not at all; on a store whose unit is one database session
    (``serializes_branches``) the branches take turns on it, a branch's turn lasting from its start (when it
    has a step that may use the database) to its checkpoint (docs/workflow-language.md, section 5).
    """

    type_name = "parallel"

    async def call(self, state: RunState) -> Outcome:
        settings: ParallelConfig = self.settings
        branches = self.step.children
        needed = len(branches) if settings.wait == "all" else 1 if settings.wait == "any" else int(settings.wait)
        if needed > len(branches):
            raise StepError(f"step {self.step.id!r}: wait {needed} but only {len(branches)} branches")
        if self._checkpoints(state):
            finished = await self._run_checkpointed(state, needed)
        else:
            start = copy.deepcopy(state.ctx)
            finished = await self._race(state, start, range(len(branches)), needed, {}, None)
        outputs: list[Any] = [None] * len(branches)
        for index in sorted(finished):
            outputs[index] = finished[index].output
            state.ctx.update(finished[index].changes)
        self.set_variable(state, settings.output, outputs)
        return self.continue_(output=outputs)

    def _checkpoints(self, state: RunState) -> bool:
        """Whether this step checkpoints its branches: it is the step the engine runs, not a nested one."""
        return state.step_unit is not None and state.position == self.step.id and bool(self.step.children)

    async def _run_checkpointed(self, state: RunState, needed: int) -> dict[int, Finished]:
        """Run the branches not checkpointed yet, each checkpointed as it succeeds, outside the step's unit."""
        unit = state.step_unit
        assert unit is not None
        finished = self._resume_point(state.ctx.pop(CURSOR, None))
        start = copy.deepcopy(state.ctx)
        todo = [index for index in range(len(self.step.children)) if index not in finished]
        if len(finished) >= needed or not todo:
            return finished
        cursor: dict[str, Any] = {
            "step": self.step.id,
            "done": {str(index): {"output": done.output, "ctx": done.changes} for index, done in finished.items()},
        }
        await unit.close()  # the branches hold units of their own; none stays open across their checkpoints
        try:
            finished.update(await self._race(state, start, todo, needed, finished, cursor))
        finally:
            state.ctx.pop(CURSOR, None)
        await unit.reopen()
        return finished

    async def _race(
        self,
        state: RunState,
        start: dict[str, Any],
        indexes: Iterable[int],
        needed: int,
        finished: dict[int, Finished],
        cursor: dict[str, Any] | None,
    ) -> dict[int, Finished]:
        """Run the branches ``indexes`` until ``needed`` succeeded (counting ``finished``); the ones that did.

        Raises the error that decided the step (any under ``wait: all``, else the one after which too few can
        succeed); the branches still running when it is decided are cancelled. With a ``cursor``, each branch
        is checkpointed in it as it succeeds.
        """
        settings: ParallelConfig = self.settings
        turns = asyncio.Lock() if getattr(state.store, "serializes_branches", False) else None
        race = Race(settings.wait == "all", needed, len(self.step.children), len(finished))
        race.tasks = [
            asyncio.create_task(self._run_branch(state, race, index, start, turns, cursor)) for index in indexes
        ]
        try:
            await asyncio.wait(race.tasks)
        finally:
            for task in race.tasks:
                if not task.done():
                    task.cancel()
            await asyncio.gather(*race.tasks, return_exceptions=True)
        if race.error is not None:
            raise race.error
        return race.succeeded

    async def _run_branch(
        self,
        state: RunState,
        race: Race,
        index: int,
        start: dict[str, Any],
        turns: asyncio.Lock | None,
        cursor: dict[str, Any] | None,
    ) -> None:
        """Run branch ``index`` on a copy of ``start`` and report to ``race`` in the branch's turn.

        A branch with a step that may use the database runs in its turn, in a unit of its own when it is
        checkpointed (``cursor``; the checkpoint commits with its writes), else in a savepoint of the step's
        unit: its writes are undone if it fails or is cancelled. A branch of other steps runs without turn
        or unit, then takes its turn for its checkpoint. The entries of a checkpointed branch that does not
        succeed go with the step's own checkpoint.
        """
        branch = self.step.children[index]
        fork = state.fork(copy.deepcopy(start), f"{self.step.id}#{index}", None)
        if cursor is not None:
            fork.pending = []
        whole = may_use_database(branch)
        opens = state.store.unit if cursor is not None else state.store.savepoint
        turn = Turn(turns)
        try:
            try:
                if whole:
                    await turn.take()
                async with opens() if whole else nullcontext():
                    output = await self._branch(fork, branch)
                    done = Finished(output, changes(start, fork.ctx))
                    if whole and cursor is not None:
                        await self._checkpoint(state, fork, index, done, cursor)
                await turn.take()
                if not whole and cursor is not None:
                    async with opens():
                        await self._checkpoint(state, fork, index, done, cursor)
            except BaseException as error:
                if cursor is not None:
                    cursor["done"].pop(str(index), None)
                    state.pending.extend(fork.pending)
                if not isinstance(error, asyncio.CancelledError):
                    await turn.take()
                    race.fail(error)
                raise
            race.succeed(index, done)
        finally:
            turn.give()

    async def _checkpoint(
        self, state: RunState, fork: RunState, index: int, done: Finished, cursor: dict[str, Any]
    ) -> None:
        """Checkpoint branch ``index`` as done: its entries, and the cursor holding its output and changes."""
        cursor["done"][str(index)] = {"output": done.output, "ctx": done.changes}
        state.ctx[CURSOR] = cursor
        await state.engine.checkpoint_branch(state, fork.pending)

    def _resume_point(self, cursor: Any) -> dict[int, Finished]:
        """The branches a checkpointed run of this step finished, read from its cursor."""
        if not isinstance(cursor, dict) or cursor.get("step") != self.step.id:
            return {}
        count = len(self.step.children)
        return {
            int(key): Finished(record.get("output"), dict(record.get("ctx") or {}))
            for key, record in (cursor.get("done") or {}).items()
            if key.isdigit() and int(key) < count and isinstance(record, dict)
        }

    async def _branch(self, fork: RunState, branch: StepDef) -> Any:
        outcome = await fork.run_nested(branch, self.step.id)
        return outcome.output
