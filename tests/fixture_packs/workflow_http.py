"""A pack whose workflows exercise the workflow HTTP API: echo, plain, slow, flaky (fails until a flag
file exists), bad SQL (a failing statement) and ask (halts for a response)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text

from packs.core import hookimpl
from packs.core.db import current_session


async def nap(seconds: float) -> dict[str, Any]:
    """Sleep ``seconds``, then say so."""
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def flaky(flag: str) -> dict[str, Any]:
    """Fail unless the file ``flag`` exists."""
    if not Path(flag).exists():
        raise RuntimeError(f"the flag file {flag} is missing")
    return {"flag": "found"}


async def bad_sql(secret: str) -> None:
    """Run a statement that fails: the database error quotes it with ``secret`` among its parameters."""
    await current_session().execute(text("SELECT nothing FROM no_such_table WHERE token = :token"), {"token": secret})


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    return {"http_flow.nap": nap, "http_flow.flaky": flaky, "http_flow.bad_sql": bad_sql}


@hookimpl
def register_workflows() -> Sequence[Path]:
    return [Path(__file__).parent / "workflows" / "http"]
