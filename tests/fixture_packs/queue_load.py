"""A pack whose workflow writes one row in each of its ``call`` steps (queued-execution load and crash tests).

Each write waits ``PACKFLOW_TEST_WORK_SECONDS`` (default 0), inserts an :class:`Item` (schema
``queue_load``) whose data names the execution and the step through the step's unit of work, then
waits ``PACKFLOW_TEST_WRITE_SECONDS`` (default 0.03 s) with the row written but not committed, so
that a worker killed mid-run is usually killed mid-step. (On SQLite, wait before writing: a write
transaction holds the database's one write lock, which the other executions' steps and leases need.)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packs.core import hookimpl
from packs.core.db import current_session
from packs.core.models import Item

SCHEMA = "queue_load"
WORK_SECONDS = "PACKFLOW_TEST_WORK_SECONDS"
WRITE_SECONDS = "PACKFLOW_TEST_WRITE_SECONDS"
CALL_STEPS = ("write_a", "write_b", "write_c", "write_d")
"""The workflow's ``call`` steps: one row each per execution."""


async def write(*, execution_id: str, step: str, user_id: str, workspace_id: str) -> dict[str, Any]:
    """Insert an item naming ``execution_id`` and ``step``; wait a little before and after (inside the step)."""
    await asyncio.sleep(float(os.environ.get(WORK_SECONDS, "0")))
    item = Item(
        schema_slug=SCHEMA,
        tool_slug=step,
        data={"execution_id": execution_id, "step": step},
        created_by_id=user_id,
        workspace_id=workspace_id,
    )
    session = current_session()
    session.add(item)
    await session.flush()
    await asyncio.sleep(float(os.environ.get(WRITE_SECONDS, "0.03")))
    return {"id": str(item.id), "step": step}


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    return {"queue_load.write": write}


@hookimpl
def register_workflows() -> Sequence[Path]:
    return [Path(__file__).parent / "workflows" / "queue_load.yml"]
