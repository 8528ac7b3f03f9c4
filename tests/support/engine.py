"""Helpers for tests of the workflow engine on its own (no app): a service resolver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def resolver(**services: Any) -> Callable[[str], Any]:
    """A service resolver knowing exactly ``services``."""
    return services.get
