"""Step types: the executor base, the built-in types (``steps/*.py``), their config structs and the registry."""

from packs.core.workflow.outcomes import Continue, Finish, Halt, Outcome
from packs.core.workflow.steps.base import StepExecutor
from packs.core.workflow.steps.registry import (
    BUILTIN_STEP_TYPES,
    StepType,
    StepTypes,
    register_step_type,
    step_types,
)

__all__ = [
    "BUILTIN_STEP_TYPES",
    "Continue",
    "Finish",
    "Halt",
    "Outcome",
    "StepExecutor",
    "StepType",
    "StepTypes",
    "register_step_type",
    "step_types",
]
