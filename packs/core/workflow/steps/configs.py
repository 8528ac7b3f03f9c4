"""Config structs of the built-in step types: they define the keys each type accepts and their types."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]


class Config(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of step config structs."""


class StartConfig(Config):
    validate_input: bool = True


class EndConfig(Config):
    result: Any = msgspec.UNSET


class AssignConfig(Config):
    set: dict[str, Any]


class OutputSchema(Config):
    key: str
    schema: dict[str, Any]


class CallConfig(Config):
    service: str
    method: str | None = None
    input: Any = None
    output: str | OutputSchema | None = None
    timeout: Positive | None = None
    retries: Annotated[int, msgspec.Meta(ge=0)] = 0
    retry_delay: NonNegative = 0.0
    retry_backoff: Annotated[float, msgspec.Meta(ge=1)] = 1.0


class Condition(Config):
    field: str
    op: str
    value: Any = None


class Route(Config):
    when: Condition
    then: str


class RouterConfig(Config):
    routes: list[Route] = []
    default: str | None = None


class LoopConfig(Config, rename={"as_": "as", "while_": "while"}):
    do: list[Any]
    over: Any = None
    as_: str = "item"
    index_as: str = "index"
    while_: Condition | None = None
    output: str | None = None
    max: Annotated[int, msgspec.Meta(ge=1)] = 100
    on_exhausted: str | None = None
    checkpoint_every: Annotated[int, msgspec.Meta(ge=1)] | None = None


class ParallelConfig(Config):
    branches: list[Any]
    wait: Literal["all", "any"] | Annotated[int, msgspec.Meta(ge=1)] = "all"
    output: str | None = None


class HaltConfig(Config):
    reason: str | None = None
    data: dict[str, Any] = {}
    resume_step: str | None = None


class ApprovalConfig(Config):
    prompt: str | None = None
    context: Any = None
    approvers: list[str] | None = None
    quorum: Annotated[int, msgspec.Meta(ge=1)] = 1
    allow_requester: bool = False
    form: dict[str, Any] | None = None
    output: str | None = None
    on_reject: str | None = None
    timeout: Positive | None = None
    on_timeout: str | None = None


class TransformConfig(Config):
    expression: dict[str, Any]
    input: str | None = None
    output: str | None = None


class WorkflowConfig(Config):
    workflow_id: str
    input: Any = None
    output: str | None = None
    timeout: Positive | None = None


class WaitConfig(Config):
    seconds: float | str | None = None
    until: str | None = None
