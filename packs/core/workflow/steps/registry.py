"""Step types by name: the built-ins and those added with ``register_step_type``.

The registry registers the built-in types itself, when :data:`step_types` is built here (not as a
side effect of importing ``steps/__init__.py``): importing any one step module stays cycle-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packs.core.workflow.language.definition import StepDef
from packs.core.workflow.steps import configs
from packs.core.workflow.steps.approval import ApprovalStep
from packs.core.workflow.steps.base import StepExecutor
from packs.core.workflow.steps.call import CallStep
from packs.core.workflow.steps.flow import AssignStep, EndStep, HaltStep, RouterStep, StartStep
from packs.core.workflow.steps.loop import LoopStep
from packs.core.workflow.steps.parallel import ParallelStep
from packs.core.workflow.steps.receive import ReceiveConfig, ReceiveStep
from packs.core.workflow.steps.subworkflow import WorkflowStep
from packs.core.workflow.steps.transform import TransformStep
from packs.core.workflow.steps.wait import WaitStep

BUILTIN_STEP_TYPES: dict[str, tuple[type[StepExecutor], type[Any]]] = {
    "start": (StartStep, configs.StartConfig),
    "end": (EndStep, configs.EndConfig),
    "assign": (AssignStep, configs.AssignConfig),
    "call": (CallStep, configs.CallConfig),
    "router": (RouterStep, configs.RouterConfig),
    "loop": (LoopStep, configs.LoopConfig),
    "parallel": (ParallelStep, configs.ParallelConfig),
    "halt": (HaltStep, configs.HaltConfig),
    "approval": (ApprovalStep, configs.ApprovalConfig),
    "transform": (TransformStep, configs.TransformConfig),
    "workflow": (WorkflowStep, configs.WorkflowConfig),
    "wait": (WaitStep, configs.WaitConfig),
    "receive": (ReceiveStep, ReceiveConfig),
}
"""The step types every engine knows, by name: their executor and config struct."""


@dataclass(frozen=True)
class StepType:
    """A step type: its executor class and the struct its config must convert to (if any)."""

    name: str
    executor_class: type[StepExecutor]
    config_struct: type[Any] | None = None


class StepTypes:
    """The known step types."""

    def __init__(self) -> None:
        self._types: dict[str, StepType] = {}

    def register(
        self, type_name: str, executor_class: type[StepExecutor], config_struct: type[Any] | None = None
    ) -> None:
        """Add (or replace) the step type ``type_name``."""
        if not (isinstance(executor_class, type) and issubclass(executor_class, StepExecutor)):
            raise TypeError(f"step type {type_name!r}: {executor_class!r} is not a StepExecutor subclass")
        self._types[type_name] = StepType(type_name, executor_class, config_struct)

    def unregister(self, type_name: str) -> None:
        """Remove a step type (no error when absent)."""
        self._types.pop(type_name, None)

    def get(self, type_name: str) -> StepType | None:
        """The step type ``type_name``, or ``None``."""
        return self._types.get(type_name)

    def names(self) -> list[str]:
        """Every known type name, sorted."""
        return sorted(self._types)

    def executor_for(self, step: StepDef) -> StepExecutor:
        """A new executor for ``step``."""
        step_type = self._types.get(step.type)
        if step_type is None:
            raise LookupError(f"step {step.id!r}: unknown step type {step.type!r}")
        return step_type.executor_class(step)


def with_builtins() -> StepTypes:
    """A registry holding the built-in step types."""
    types = StepTypes()
    for name, (executor_class, config_struct) in BUILTIN_STEP_TYPES.items():
        types.register(name, executor_class, config_struct)
    return types


step_types = with_builtins()
"""The process's step types: the built-ins, and those added with :func:`register_step_type`."""


def register_step_type(
    type_name: str, executor_class: type[StepExecutor], config_struct: type[Any] | None = None
) -> None:
    """Add a step type: ``executor_class(step).call(state)`` runs it; ``config_struct`` validates its config."""
    step_types.register(type_name, executor_class, config_struct)
