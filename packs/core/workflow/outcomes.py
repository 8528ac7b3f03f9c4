"""What a step returns to the engine: go on (:class:`Continue`), stop halted (:class:`Halt`) or end (:class:`Finish`).

This module imports nothing of the package, so the engine, the run state and every step type can
import it without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Continue:
    """Go on: to ``next_step`` (default: the step's ``next``), recording ``output``."""

    output: Any = None
    next_step: str | None = None


@dataclass(frozen=True)
class Halt:
    """Stop the execution as ``halted`` with ``data``; resuming continues at ``resume_step``."""

    data: dict[str, Any] = field(default_factory=dict)
    resume_step: str | None = None


@dataclass(frozen=True)
class Finish:
    """End the execution as ``completed`` with ``result`` as its output."""

    result: Any = None


Outcome = Continue | Halt | Finish
"""Any of the three."""
