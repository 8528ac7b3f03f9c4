"""A bench-only pack for ``bench/workflow_timers.py``: the ``bench_timers_wait`` workflow (start, wait, end).

Not installed with the project: the bench declares it as a distribution (a ``.dist-info`` folder
with a ``packflow.packs`` entry point) in a temporary folder and puts that folder and ``bench/`` on
``PYTHONPATH`` for the worker processes it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packs.core import hookimpl

WORKFLOW_ID = "bench_timers_wait"


@hookimpl
def register_workflows() -> Sequence[Path]:
    """``bench_timers_wait``: start, a ``wait`` of ``$input.seconds``, end."""
    return [Path(__file__).parent / "workflows" / "bench_timers_wait.yml"]
