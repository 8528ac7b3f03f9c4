"""The core pack: what every other pack builds on, and the one import a pack author needs.

Pack authors import from here::

    from packs.core import Feature, Item, ItemSerializer, Schema, Tool, ValidationError, hookimpl

:data:`hookimpl` marks hook functions; it is defined beside the hook specifications in
:mod:`packs.core.hookspecs` (the pack contract, docs/writing-a-pack.md "Hook reference"). The
other names are re-exported lazily (importing ``packs.core`` stays cheap) from their modules,
which may be imported directly too:
:mod:`packs.core.tools` (the tool base and errors), :mod:`packs.core.features`,
:mod:`packs.core.schemas` (the schema base and validation), :mod:`packs.core.db` (the unit of work),
:mod:`packs.core.models` and :mod:`packs.core.items` (the item model and queries),
:mod:`packs.core.serializers`, :mod:`packs.core.settings` (a pack's own settings) and
:mod:`packs.core.workflow` (the engine, step executors for custom step types).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from packs.core.hookspecs import PROJECT_NAME, hookimpl

_EXPORTS = {
    "Tool": "packs.core.tools",
    "ValidationError": "packs.core.tools",
    "NotFoundError": "packs.core.tools",
    "ForbiddenError": "packs.core.tools",
    "WorkflowTool": "packs.core.tools",
    "Feature": "packs.core.features",
    "Schema": "packs.core.schemas",
    "validate": "packs.core.schemas",
    "current_session": "packs.core.db",
    "Item": "packs.core.models",
    "find_item": "packs.core.items",
    "live_items": "packs.core.items",
    "paginate": "packs.core.items",
    "PageNumber": "packs.core.items",
    "PerPage": "packs.core.items",
    "ItemSerializer": "packs.core.serializers",
    "pack_settings": "packs.core.settings",
    "StepExecutor": "packs.core.workflow",
    "StepValueError": "packs.core.workflow",
}

if TYPE_CHECKING:
    from packs.core.db import current_session
    from packs.core.features import Feature
    from packs.core.items import PageNumber, PerPage, find_item, live_items, paginate
    from packs.core.models import Item
    from packs.core.schemas import Schema, validate
    from packs.core.serializers import ItemSerializer
    from packs.core.settings import pack_settings
    from packs.core.tools import ForbiddenError, NotFoundError, Tool, ValidationError, WorkflowTool
    from packs.core.workflow import StepExecutor, StepValueError


def __getattr__(name: str) -> Any:
    """Import a re-exported name from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'packs.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "PROJECT_NAME",
    "Feature",
    "ForbiddenError",
    "Item",
    "ItemSerializer",
    "NotFoundError",
    "PageNumber",
    "PerPage",
    "Schema",
    "StepExecutor",
    "StepValueError",
    "Tool",
    "ValidationError",
    "WorkflowTool",
    "current_session",
    "find_item",
    "hookimpl",
    "live_items",
    "pack_settings",
    "paginate",
    "validate",
]
