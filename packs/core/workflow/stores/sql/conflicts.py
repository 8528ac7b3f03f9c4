"""``INSERT ... ON CONFLICT (keys) DO NOTHING`` that SQLAlchemy compiles once per engine, not once per execution.

The dialects' own constructs (``postgresql.insert(table).on_conflict_do_nothing(...)`` and SQLite's) are never
kept in SQLAlchemy's compiled cache: their ``Insert`` classes set ``inherit_cache = False``, so every execution
compiles the statement again: about half the CPU the API spent starting an execution (``SQLStore.add``).
:class:`InsertIgnoringConflicts` is a plain ``Insert`` whose cache key holds the conflict's columns, and whose
conflict clause is built from those columns alone, so two statements with the same key compile to the same SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql.dml import OnConflictDoNothing as PostgresOnConflictDoNothing
from sqlalchemy.dialects.sqlite.dml import OnConflictDoNothing as SqliteOnConflictDoNothing
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.visitors import InternalTraversal

CONFLICT_CLAUSES: dict[str, Any] = {
    "postgresql": PostgresOnConflictDoNothing,
    "sqlite": SqliteOnConflictDoNothing,
}
"""The ``ON CONFLICT (...) DO NOTHING`` clause of each dialect this construct supports."""


class InsertIgnoringConflicts(Insert):
    """``INSERT INTO table ... ON CONFLICT (conflict_keys) DO NOTHING`` on PostgreSQL and SQLite, cacheable.

    The cache key is the plain ``Insert``'s without its post-values clause (the dialect's conflict clause, which
    has no cache key of its own) and with ``conflict_keys`` instead: the clause is made from those keys only.
    """

    inherit_cache = False  # the traversal below is this class's own
    _traverse_internals = [
        *(item for item in Insert._traverse_internals if item[0] != "_post_values_clause"),
        ("conflict_keys", InternalTraversal.dp_string_list),
    ]

    def __init__(self, dialect: str, table: Table, keys: Sequence[str]) -> None:
        clause = CONFLICT_CLAUSES.get(dialect)
        if clause is None:
            raise NotImplementedError(f"the SQL store's queue methods support PostgreSQL and SQLite, not {dialect}")
        super().__init__(table)
        self.conflict_keys = tuple(keys)
        self._post_values_clause = clause(index_elements=list(self.conflict_keys))
