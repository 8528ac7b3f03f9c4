"""A pack with migrations of its own: a ``pack_notes`` table, in two revisions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packs.core import hookimpl

MIGRATIONS = Path(__file__).parent / "pack_versions" / "notes"


@hookimpl
def register_migrations() -> Sequence[Path]:
    return [MIGRATIONS]
