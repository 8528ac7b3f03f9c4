"""A pack whose register_settings returns a dict instead of a msgspec Struct class."""

from __future__ import annotations

from typing import Any

from packs.core import hookimpl


@hookimpl
def register_settings() -> Any:
    return {"api_key": str}
