"""A pack naming a migration folder that does not exist."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packs.core import hookimpl


@hookimpl
def register_migrations() -> Sequence[Path]:
    return [Path(__file__).parent / "pack_versions" / "nowhere"]
