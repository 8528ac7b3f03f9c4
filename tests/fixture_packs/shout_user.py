"""A pack whose workflow uses the ``shout`` step type without providing it (the ``step_types`` pack does)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packs.core import hookimpl


@hookimpl
def register_workflows() -> Sequence[Path]:
    return [Path(__file__).parent / "workflows" / "steps" / "borrowed.yml"]
