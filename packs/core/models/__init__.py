"""The core pack's SQLAlchemy models (advanced-alchemy UUID audit bases; the workflow tables on its registry)."""

from packs.core.models.console import AuditEntry, ConsoleSession
from packs.core.models.identity import ApiToken, Membership, User, Workspace
from packs.core.models.item import Item
from packs.core.models.schedule import WorkflowSchedule
from packs.core.models.workflow import (
    WorkflowDefinition,
    WorkflowEntry,
    WorkflowExecution,
    WorkflowModelValidationError,
)
from packs.core.models.workflow_changes import WorkflowCtxChange
from packs.core.models.workflow_decisions import WorkflowDecision
from packs.core.models.workflow_signals import WorkflowSignal
from packs.core.models.workflow_timers import WorkflowTimer

__all__ = [
    "ApiToken",
    "AuditEntry",
    "ConsoleSession",
    "Item",
    "Membership",
    "User",
    "WorkflowCtxChange",
    "WorkflowDecision",
    "WorkflowDefinition",
    "WorkflowEntry",
    "WorkflowExecution",
    "WorkflowModelValidationError",
    "WorkflowSchedule",
    "WorkflowSignal",
    "WorkflowTimer",
    "Workspace",
]
