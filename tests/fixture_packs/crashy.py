"""A pack whose workflow writes a row in a ``call`` step and can be made to hang there (crash tests)."""

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


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    return {"crashy.write_then_hang": write_then_hang}


@hookimpl
def register_workflows() -> Sequence[Path]:
    return [Path(__file__).parent / "workflows" / "crash_test.yml"]
