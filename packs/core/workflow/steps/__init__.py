"""Step types: the executor base, the built-in types and ``register_step_type``."""

from packs.core.workflow.steps import configs
from packs.core.workflow.steps.base import Continue, Finish, Halt, Outcome, StepExecutor
from packs.core.workflow.steps.call import CallStep
from packs.core.workflow.steps.flow import ApprovalStep, AssignStep, EndStep, HaltStep, RouterStep, StartStep
from packs.core.workflow.steps.loop import LoopStep
from packs.core.workflow.steps.parallel import ParallelStep
from packs.core.workflow.steps.registry import StepType, StepTypes, register_step_type, step_types
from packs.core.workflow.steps.subworkflow import WorkflowStep
from packs.core.workflow.steps.transform import TransformStep

BUILTIN_STEP_TYPES = {
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
}
for _name, (_executor, _config) in BUILTIN_STEP_TYPES.items():
    step_types.register(_name, _executor, _config)

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
