"""The step executor base class and the outcomes a step returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from packs.core.workflow.references import resolve

if TYPE_CHECKING:
    from packs.core.workflow.definition import StepDef
    from packs.core.workflow.state import RunState


@dataclass(frozen=True)
class Continue:
    """Go on: to ``next_step`` (default: the step's ``next``), recording ``output``."""

    output: Any = None
    next_step: str | None = None


@dataclass(frozen=True)
class Halt:
    """Stop the execution as ``halted`` with ``data``; resuming continues at ``resume_step``."""

    data: dict[str, Any] = field(default_factory=dict)
    resume_step: str | None = None


@dataclass(frozen=True)
class Finish:
    """End the execution as ``completed`` with ``result`` as its output."""

    result: Any = None


Outcome = Continue | Halt | Finish


class StepExecutor:
    """Base of every step type's executor: built with its step definition, ``call(state)`` does the work.

    Subclasses set ``type_name`` and implement :meth:`call`; the helpers resolve references,
    store values in the context and build outcomes (docs/workflow-language.md, section 1, Extensions).
    """

    type_name: ClassVar[str] = ""

    def __init__(self, step: StepDef) -> None:
        self.step = step
        self.config = step.config
        self.settings = step.settings

    async def call(self, state: RunState) -> Outcome:
        """Run the step and say what happens next."""
        raise NotImplementedError(f"{type(self).__name__}.call must be implemented")

    def resolve(self, state: RunState, value: Any) -> Any:
        """``value`` with its ``$references`` resolved against the run's state."""
        return resolve(value, state.variables())

    def store(self, state: RunState, key: str | None, value: Any) -> None:
        """Set context variable ``key`` (nothing when ``key`` is empty)."""
        if key:
            state.ctx[key] = value

    def continue_(self, output: Any = None, next_step: str | None = None) -> Continue:
        """Go on to ``next_step`` (default: the step's ``next``)."""
        return Continue(output=output, next_step=next_step)

    def halt(self, data: dict[str, Any] | None = None, resume_step: str | None = None) -> Halt:
        """Stop as ``halted``; resuming continues at ``resume_step``."""
        return Halt(data=dict(data or {}), resume_step=resume_step)
