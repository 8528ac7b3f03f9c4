"""A pack whose migration fails (and one whose migration folder does not exist)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packs.core import hookimpl

MIGRATIONS = Path(__file__).parent / "pack_versions" / "broken"


@hookimpl
def register_migrations() -> Sequence[Path]:
    return [MIGRATIONS]
