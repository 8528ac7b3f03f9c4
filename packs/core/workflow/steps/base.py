"""The step executor base class (the outcomes it returns live in :mod:`packs.core.workflow.outcomes`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from packs.core.workflow.language.references import resolve
from packs.core.workflow.outcomes import Continue, Finish, Halt, Outcome

if TYPE_CHECKING:
    from packs.core.workflow.language.definition import StepDef
    from packs.core.workflow.state import RunState


class StepExecutor:
    """Base of every step type's executor: built with its step definition, ``call(state)`` does the work.

    Subclasses set ``type_name`` and implement :meth:`call`; the helpers resolve references,
    store values in the context and build outcomes (docs/workflow-language.md, section 1, Extensions).
    """

    type_name: ClassVar[str] = ""
    reads_history: ClassVar[bool] = False
    """Set true when the type's code reads ``$history`` whatever its config says: a run keeps the entries
    recorded so far only when some step may read them (``$history`` in its config, or this flag)."""
    instant: ClassVar[bool] = False
    """Set true when the type only reads and changes the run's context: no I/O, no store or tool call, no
    waiting. Between two such steps the engine commits nothing: their entries go with the next checkpoint
    (docs/workflow-language.md, section 5). :meth:`is_instant` answers it for one run."""

    def __init__(self, step: StepDef) -> None:
        self.step = step
        self.config = step.config
        self.settings = step.settings

    async def call(self, state: RunState) -> Outcome:
        """Run the step and say what happens next."""
        raise NotImplementedError(f"{type(self).__name__}.call must be implemented")

    def is_instant(self, state: RunState) -> bool:
        """Whether this step, run now in ``state``, does no I/O (default: :attr:`instant`)."""
        return self.instant

    def resolve(self, state: RunState, value: Any) -> Any:
        """``value`` with its ``$references`` resolved against the run's state."""
        return resolve(value, state.variables())

    def set_variable(self, state: RunState, key: str | None, value: Any) -> None:
        """Set context variable ``key`` (nothing when ``key`` is empty)."""
        if key:
            state.ctx[key] = value

    store = set_variable
    """The old name of :meth:`set_variable` (it stores nothing in the run's store), kept for packs using it."""

    def continue_(self, output: Any = None, next_step: str | None = None) -> Continue:
        """Go on to ``next_step`` (default: the step's ``next``)."""
        return Continue(output=output, next_step=next_step)

    def halt(self, data: dict[str, Any] | None = None, resume_step: str | None = None) -> Halt:
        """Stop as ``halted``; resuming continues at ``resume_step``."""
        return Halt(data=dict(data or {}), resume_step=resume_step)


__all__ = ["Continue", "Finish", "Halt", "Outcome", "StepExecutor"]
