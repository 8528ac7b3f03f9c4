"""The tool base class and the errors tools raise (import them from here)."""

from packs.core.tools.base import Tool
from packs.core.tools.errors import ForbiddenError, NotFoundError, ToolError, ValidationError
from packs.core.tools.parameters import ToolParameters
from packs.core.tools.routing import Route
from packs.core.tools.workflow import WorkflowTool

Base = Tool
"""Another name of :class:`Tool`, kept for tools that import ``Base``."""

__all__ = [
    "Base",
    "ForbiddenError",
    "NotFoundError",
    "Route",
    "Tool",
    "ToolError",
    "ToolParameters",
    "ValidationError",
    "WorkflowTool",
]
