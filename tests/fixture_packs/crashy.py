"""A pack whose workflows write rows in ``call`` steps, in a loop or parallel branches, and can be made to hang there
(crash tests)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packs.core import hookimpl
from packs.core.db import current_session
from packs.core.models import Item

HANG_FILE = "PACKFLOW_TEST_HANG_FILE"
LOOP_HANG_FILE = "PACKFLOW_TEST_LOOP_HANG_FILE"
LOOP_HANG_AT = "PACKFLOW_TEST_LOOP_HANG_AT"


async def write_then_hang(*, user_id: str, workspace_id: str, label: str) -> dict[str, Any]:
    """Insert an item; when ``PACKFLOW_TEST_HANG_FILE`` is set, create that file and hang."""
    item = Item(
        schema_slug="crash", tool_slug="write", data={"label": label}, created_by_id=user_id, workspace_id=workspace_id
    )
    current_session().add(item)
    await current_session().flush()
    signal = os.environ.get(HANG_FILE)
    if signal:
        Path(signal).write_text(str(item.id), encoding="utf-8")  # noqa: ASYNC240 (a test signal: one tiny write)
        await asyncio.sleep(600)
    return {"id": str(item.id), "label": label}


async def write_item(*, user_id: str, workspace_id: str, label: str, index: int) -> dict[str, Any]:
    """Insert an item for loop iteration ``index``; at ``PACKFLOW_TEST_LOOP_HANG_AT``, when
    ``PACKFLOW_TEST_LOOP_HANG_FILE`` is set, create that file and hang."""
    item = Item(
        schema_slug="crash",
        tool_slug="write",
        data={"label": label, "index": index},
        created_by_id=user_id,
        workspace_id=workspace_id,
    )
    current_session().add(item)
    await current_session().flush()
    signal = os.environ.get(LOOP_HANG_FILE)
    if signal and index == int(os.environ.get(LOOP_HANG_AT, "-1")):
        Path(signal).write_text(str(index), encoding="utf-8")  # noqa: ASYNC240 (a test signal: one tiny write)
        await asyncio.sleep(600)
    return {"index": index}


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    return {"crashy.write_then_hang": write_then_hang, "crashy.write_item": write_item}


@hookimpl
def register_workflows() -> Sequence[Path]:
    folder = Path(__file__).parent / "workflows"
    return [folder / "crash_test.yml", folder / "crash_loop.yml", folder / "crash_parallel.yml"]
