"""The durable workflow engine (docs/workflow-language.md): a library with no Litestar or app imports.

from packs.core import workflow as wf

definition = wf.load("workflows/create_contact.yml")
result = await wf.Engine(definition, store=wf.MemoryStore(), service_resolver=resolve).run(input={...})
"""

from packs.core.workflow.decisions import Decision
from packs.core.workflow.engine import Engine
from packs.core.workflow.errors import (
    ConfigError,
    Error,
    ExecutionError,
    ExecutionNotFoundError,
    ExecutionStateError,
    LeaseLostError,
    ResumeInputError,
    StepError,
    StepValueError,
    ValidationError,
)
from packs.core.workflow.events import EVENT_TYPES, Event
from packs.core.workflow.language.definition import FINISHED, InputDef, StepDef, WorkflowDef
from packs.core.workflow.language.inputs import check_input, input_schema
from packs.core.workflow.language.loader import after_parse, before_parse, clear_parser_hooks, load, transform_config
from packs.core.workflow.model import FINAL_STATUSES, Action, Entry, Execution, ExecutionResult, HaltResult, Status
from packs.core.workflow.outcomes import Continue, Finish, Halt
from packs.core.workflow.queue.adapters import InlineAdapter, QueueAdapter
from packs.core.workflow.queue.async_runner import SETTLED, AsyncRunner, wait_for
from packs.core.workflow.queue.catalog import DefinitionCatalog
from packs.core.workflow.queue.control import cancel, queue_redrive, queue_resume
from packs.core.workflow.queue.decisions import AlreadyDecidedError, Decided, decide, decide_as_operator
from packs.core.workflow.queue.recovery import RecoverySweeper
from packs.core.workflow.queue.worker import RetryPolicy, Worker
from packs.core.workflow.replay import EventReplay
from packs.core.workflow.runners import StreamRunner, SyncRunner
from packs.core.workflow.settings import (
    DEFAULT_MAX_STATE_BYTES,
    ServiceResolver,
    clear_registry,
    configure,
    register,
    registry,
    unregister,
)
from packs.core.workflow.state import FAILURE, to_json_value
from packs.core.workflow.steps import StepExecutor, register_step_type, step_types
from packs.core.workflow.stores import ExecutionFilter, Keyset, MemoryStore, Page, QueueStore, Store
from packs.core.workflow.timers import Timer, TimerSweeper, fire_due, timer_handlers

__all__ = [
    "DEFAULT_MAX_STATE_BYTES",
    "EVENT_TYPES",
    "FAILURE",
    "FINAL_STATUSES",
    "FINISHED",
    "SETTLED",
    "Action",
    "AlreadyDecidedError",
    "AsyncRunner",
    "ConfigError",
    "Continue",
    "Decided",
    "Decision",
    "DefinitionCatalog",
    "Engine",
    "Entry",
    "Error",
    "Event",
    "EventReplay",
    "Execution",
    "ExecutionError",
    "ExecutionFilter",
    "ExecutionNotFoundError",
    "ExecutionResult",
    "ExecutionStateError",
    "Finish",
    "Halt",
    "HaltResult",
    "InlineAdapter",
    "InputDef",
    "Keyset",
    "LeaseLostError",
    "MemoryStore",
    "Page",
    "QueueAdapter",
    "QueueStore",
    "RecoverySweeper",
    "ResumeInputError",
    "RetryPolicy",
    "ServiceResolver",
    "Status",
    "StepDef",
    "StepError",
    "StepExecutor",
    "StepValueError",
    "Store",
    "StreamRunner",
    "SyncRunner",
    "Timer",
    "TimerSweeper",
    "ValidationError",
    "Worker",
    "WorkflowDef",
    "after_parse",
    "before_parse",
    "cancel",
    "check_input",
    "clear_parser_hooks",
    "clear_registry",
    "configure",
    "decide",
    "decide_as_operator",
    "fire_due",
    "input_schema",
    "load",
    "queue_redrive",
    "queue_resume",
    "register",
    "register_step_type",
    "registry",
    "step_types",
    "timer_handlers",
    "to_json_value",
    "transform_config",
    "unregister",
    "wait_for",
]
