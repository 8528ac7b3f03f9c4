"""A pack whose workflows exercise the workflow HTTP API: echo, plain, slow, flaky (fails until a flag
file exists) and ask (halts for a response)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from packs.core import hookimpl


async def nap(seconds: float) -> dict[str, Any]:
    """Sleep ``seconds``, then say so."""
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def flaky(flag: str) -> dict[str, Any]:
    """Fail unless the file ``flag`` exists."""
    if not Path(flag).exists():
        raise RuntimeError(f"the flag file {flag} is missing")
    return {"flag": "found"}


@hookimpl
def register_services() -> Mapping[str, Callable[..., Any]]:
    return {"http_flow.nap": nap, "http_flow.flaky": flaky}


@hookimpl
def register_workflows() -> Sequence[Path]:
    return [Path(__file__).parent / "workflows" / "http"]
