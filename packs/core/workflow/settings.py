"""Process-wide defaults (``configure``) and the named registry of workflows (``register``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packs.core.workflow.language.definition import WorkflowDef
    from packs.core.workflow.stores.protocol import Store

ServiceResolver = Callable[[str], Any]
DEFAULT_MAX_STATE_BYTES = 1024 * 1024


@dataclass
class Defaults:
    """What engines use when they are not given their own."""

    store: Store | None = None
    service_resolver: ServiceResolver | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("packflow.workflow"))
    max_state_bytes: int = DEFAULT_MAX_STATE_BYTES


defaults = Defaults()
_workflows: dict[str, WorkflowDef] = {}
registry: Mapping[str, WorkflowDef] = MappingProxyType(_workflows)
"""Workflows registered with :func:`register`, by id (read-only view)."""


def configure(
    store: Store | None = None,
    service_resolver: ServiceResolver | None = None,
    logger: logging.Logger | None = None,
    *,
    max_state_bytes: int = DEFAULT_MAX_STATE_BYTES,
) -> None:
    """Set the process defaults; each call replaces all of them (``None`` clears one)."""
    defaults.store = store
    defaults.service_resolver = service_resolver
    defaults.logger = logger or logging.getLogger("packflow.workflow")
    defaults.max_state_bytes = max_state_bytes


def register(definition: WorkflowDef) -> WorkflowDef:
    """Add ``definition`` to the registry used by sub-workflows (the same id replaces)."""
    _workflows[definition.id] = definition
    return definition


def unregister(workflow_id: str) -> None:
    """Remove a workflow from the registry (no error when absent)."""
    _workflows.pop(workflow_id, None)


def clear_registry() -> None:
    """Remove every registered workflow."""
    _workflows.clear()
