"""A bench-only pack for ``bench/workflow_queue.py``: the 10-step ``bench_queue_steps`` workflow and its service.

Not installed with the project: the bench declares it as a distribution (a ``.dist-info`` folder
with a ``packflow.packs`` entry point) in a temporary folder and puts that folder and ``bench/`` on
``PYTHONPATH`` for the worker processes it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packs.core import hookimpl

WORKFLOW_ID = "bench_queue_steps"
SERVICE = "bench_queue.echo"


async def echo(value: Any, i: int) -> dict[str, Any]:
    """The trivial step body: a small dict, no I/O (DBOS's steps in the bench return the same)."""
    return {"ok": True, "value": value, "i": i}


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    """The service the workflow's ``call`` steps await."""
    return {SERVICE: echo}


@hookimpl
def register_workflows() -> Sequence[Path]:
    """``bench_queue_steps``: start, eight ``call`` steps, end."""
    return [Path(__file__).parent / "workflows" / "bench_queue_steps.yml"]
