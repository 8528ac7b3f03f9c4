"""Pack migrations: each enabled pack's Alembic versions, applied after the core ones.

A pack returns its version folders from ``register_migrations``. Its revisions form a history of
their own (the first has ``down_revision = None``) and are tracked in a version table of their own,
``alembic_version_<pack>``: disabling a pack leaves its tables and its version row alone and does
not get in the way of upgrading the others. Packs are upgraded in configuration order, each in a
transaction of its own, after the core migrations (so their tables may refer to core tables).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from app.packs import LoadedPacks, PackError

DATABASE_ONLY_INDEXES = "ix_items_trgm_"
"""The prefix of the indexes a core migration creates on PostgreSQL only and the models leave out: the
trigram indexes of the contacts search (migration 0004)."""


def core_tables_only(_object: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic's ``include_object`` for the core's autogenerate and ``alembic check``.

    A table found in the database but not in the core's models (a pack's table, or a pack's version
    table) belongs to that pack's own history: the core's migrations never propose to drop it. Nor the
    PostgreSQL-only indexes named :data:`DATABASE_ONLY_INDEXES`.
    """
    if type_ == "index" and reflected and compare_to is None and (name or "").startswith(DATABASE_ONLY_INDEXES):
        return False
    return not (type_ == "table" and reflected and compare_to is None)


def pack_version_table(pack: str) -> str:
    """The version table of ``pack``'s migrations."""
    return f"alembic_version_{pack}"


def pack_migration_folders(packs: LoadedPacks) -> dict[str, list[Path]]:
    """The version folders of every enabled pack that has migrations, in configuration order."""
    folders: dict[str, list[Path]] = {}
    for pack in packs.enabled:
        found = packs.contributions[pack].migrations
        if not found:
            continue
        missing = [str(folder) for folder in found if not folder.is_dir()]
        if missing:
            raise PackError(f"pack {pack!r}: register_migrations names folders that do not exist: {', '.join(missing)}")
        folders[pack] = list(found)
    return folders


def upgrade_packs(connection: Connection, packs: LoadedPacks, script_location: str) -> list[str]:
    """Apply every enabled pack's pending migrations on ``connection``; the packs that had migrations."""
    upgraded = []
    for pack, folders in pack_migration_folders(packs).items():
        upgrade_pack(connection, pack, folders, script_location)
        upgraded.append(pack)
    return upgraded


def upgrade_pack(connection: Connection, pack: str, folders: list[Path], script_location: str) -> None:
    """Upgrade ``pack`` to the heads of its own revisions, tracked in its own version table."""
    script = ScriptDirectory(script_location, version_locations=[str(folder) for folder in folders])

    def to_heads(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs("heads", revision)

    context = MigrationContext.configure(
        connection,
        opts={
            "version_table": pack_version_table(pack),
            "fn": to_heads,
            "render_as_batch": connection.dialect.name == "sqlite",
            "script": script,
        },
    )
    try:
        with Operations.context(context), context.begin_transaction():
            context.run_migrations()
    except PackError:
        raise
    except Exception as error:
        raise PackError(f"pack {pack!r}: its migrations failed: {type(error).__name__}: {error}") from error
