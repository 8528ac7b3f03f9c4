"""A pack shipping invalid workflows: startup must stop listing every problem with its file."""

from pathlib import Path

from packs.core import hookimpl


@hookimpl
def register_workflows() -> list[Path]:
    return [Path(__file__).parent / "workflows" / "bad"]
