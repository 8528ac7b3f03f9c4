"""What a halted execution waits for: ``halt_data.type``.

See docs/workflow-language.md, Waits and durable timers, and docs/http-api.md, Workflow executions.

Every halt names its kind: ``approval`` (a decision), ``wait`` (a durable timer), ``signal`` (a
``receive`` step's signal) or ``input`` (a plain ``halt`` step's response). A ``workflow`` step
whose child halted halts as ``workflow``, with the child's halt (and its type) under ``child``.
The executions list filters on it with ``?waiting_for=``.
"""

from __future__ import annotations

from typing import Any

WAITING_FOR: tuple[str, ...] = ("approval", "wait", "signal", "input")
"""The values of ``halt_data.type`` that ``?waiting_for=`` selects."""

SUB_WORKFLOW = "workflow"
"""``halt_data.type`` of a parent halted at a ``workflow`` step, its child's halt under ``child``."""


def innermost(halt: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    """The halt a chain of ``workflow`` halts comes down to, and the id of the execution that halted so (the
    deepest child; ``None`` when ``halt`` is not a sub-workflow's)."""
    execution_id = None
    while isinstance(halt, dict) and halt.get("type") == SUB_WORKFLOW:
        child_id = halt.get("child_execution_id")
        execution_id = child_id if isinstance(child_id, str) else execution_id
        halt = halt.get("child")
    return (halt if isinstance(halt, dict) else None), execution_id
