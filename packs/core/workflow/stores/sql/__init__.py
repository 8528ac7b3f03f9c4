"""The SQL store's public module: :class:`SQLStore` and the SQLite transaction recipe its engine needs.

from packs.core.workflow.stores.sql import SQLStore, configure_sqlite_engine, take_write_lock
"""

from packs.core.workflow.stores.sql.sqlite import configure_sqlite_engine, take_write_lock
from packs.core.workflow.stores.sql.store import SQLStore

__all__ = ["SQLStore", "configure_sqlite_engine", "take_write_lock"]
