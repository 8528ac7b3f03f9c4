"""What a halted execution waits for: ``halt_data.type``.

See docs/workflow-language.md, Waits and durable timers, and docs/http-api.md, Workflow executions.

Every halt names its kind: ``approval`` (a decision), ``wait`` (a durable timer), ``signal`` (a
``receive`` step's signal) or ``input`` (a plain ``halt`` step's response). A ``workflow`` step
whose child halted halts as ``workflow``, with the child's halt (and its type) under ``child``.
The executions list filters on it with ``?waiting_for=``.
"""

from __future__ import annotations

WAITING_FOR: tuple[str, ...] = ("approval", "wait", "signal", "input")
"""The values of ``halt_data.type`` that ``?waiting_for=`` selects."""
