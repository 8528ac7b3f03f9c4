"""The context's change log: what a checkpoint writes of an execution's ``ctx``, and how a read rebuilds it.

PostgreSQL rewrites a whole ``jsonb`` value on any update, and SQLite a whole row, so a checkpoint
that wrote the whole ``ctx`` would cost what the context weighs, whatever the step changed. With a
change table (``workflow_ctx_changes``: ``execution_id``, ``seq``, ``changes``, ``entry_id``,
``entry_key``) a checkpoint writes (docs/workflow-language.md, section 5, Checkpoints):

- nothing of the context when no top-level key changed;
- the whole ``ctx`` column, deleting the execution's change rows, when the context is smaller than
  :data:`WHOLE_BELOW_BYTES` (or is not one this store wrote);
- else one change row: ``changes`` = ``{"set": {key: value}, "del": [key]}`` of the keys changed
  since the last write; a large value equal to the step's output
  (:data:`~packs.core.workflow.context.LARGE_VALUE_BYTES`) is not repeated: ``entry_key`` names the
  key and ``entry_id`` the entry whose ``output`` holds it;
- or a *base* row ``{"base": true, "set": <the whole context>}``, deleting the rows before it, when
  the context was replaced, when a change is most of it, or when the change rows since the last base
  would exceed :data:`COMPACT_RATIO` times its size (so the bytes written stay proportional to what
  changes). A large context never goes into the executions row: SQLite rewrites a whole row on any
  update.

Every read of an execution selects its change rows with it (one correlated subquery, the entries'
outputs joined) and applies them in ``seq`` order to the ``ctx`` column: the engine's load and
claim, the recovery sweep, ``find`` and ``page`` all see the whole current context.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import JSON, ColumnElement, Table, case, func, literal_column, null, select

from packs.core.workflow.context import Context, as_context
from packs.core.workflow.model import Execution

WHOLE_BELOW_BYTES = 4096
"""A context smaller than this (as JSON) is written whole at every checkpoint: one row update costs less
than an update and a change row."""

COMPACT_RATIO = 1.0
"""The ``ctx`` column is written whole again once the change rows since its last whole write would hold more
than this times the context's size."""

LABEL = "ctx_changes"
"""The label of the change rows' column in the store's selects."""

CHANGE_COLUMNS = ("execution_id", "seq", "changes", "entry_id", "entry_key")


@dataclass(slots=True)
class Written:
    """What the store last wrote of one execution's context: the next change row's ``seq`` and the bytes of the
    change rows since the whole ``ctx`` was written."""

    log: ChangeLog
    execution_id: str
    next_seq: int
    pending_bytes: int
    row: tuple[Any, ...] | None = None
    """The driver values of the executions row's other columns as the SQLite writer last wrote them
    (:data:`~.rows.UPDATED_ON_SAVE` but ``ctx``), so that its next update writes only those that changed;
    ``None``: unknown, write them all."""


@dataclass(slots=True)
class CtxWrite:
    """What one checkpoint writes of the context."""

    whole: bool
    """Write the ``ctx`` column."""
    change: dict[str, Any] | None
    """The change row to insert, as column values."""
    drop_below: int | None
    """Delete the execution's change rows whose ``seq`` is below this (``None``: none)."""
    after: Written
    """The store's record once the write is committed."""
    row_before: tuple[Any, ...] | None = None
    """What the store knows the executions row's other columns hold (:attr:`Written.row`), ``None`` when it
    does not: the context is new, or was marked :attr:`~packs.core.workflow.context.Context.whole` because a
    write may have been rolled back."""

    @property
    def drop(self) -> bool:
        """Whether the write deletes change rows."""
        return self.drop_below is not None


EVERY_ROW = 2**31 - 1
"""A ``drop_below`` that deletes every change row of the execution."""


class ChangeLog:
    """The change table of a SQL store: planning a checkpoint's write of the context and rebuilding it on read."""

    def __init__(self, executions: Table, entries: Table, changes: Table) -> None:
        self.executions = executions
        self.entries = entries
        self.table = changes
        self._columns: dict[tuple[str, tuple[str, ...] | None], ColumnElement[Any]] = {}

    # -- writing --------------------------------------------------------------------------------

    def plan(self, execution: Execution, key: uuid.UUID) -> CtxWrite:
        """What a checkpoint of ``execution`` (row id ``key``) writes of its context."""
        ctx = execution.ctx
        stored = ctx.stored if isinstance(ctx, Context) else None
        if not isinstance(ctx, Context) or not isinstance(stored, Written) or stored.log is not self:
            return self.whole(execution)
        if stored.execution_id != execution.id:
            return self.whole(execution)
        if not ctx.unsaved and not ctx.whole:
            return CtxWrite(False, None, None, stored, stored.row)
        before = None if ctx.whole else stored.row
        size = ctx.measure()
        if size < WHOLE_BELOW_BYTES:
            drop = stored.next_seq if stored.next_seq else None
            return CtxWrite(True, None, drop, self._after(stored, 0, 0), before)
        if ctx.whole:
            return self._base(ctx, key, stored)
        values: dict[str, Any] = {}
        removed: list[str] = []
        ref: tuple[str, str] | None = None
        for name in ctx.unsaved:
            if name not in ctx:
                removed.append(name)
            elif ref is None and name in ctx.refs:
                ref = (name, ctx.refs[name])
            else:
                values[name] = ctx[name]
        changes: dict[str, Any] = {}
        if values:
            changes["set"] = values
        if removed:
            changes["del"] = sorted(removed)
        weight = len(msgspec.json.encode(changes)) + (0 if ref is None else len(ref[0]) + 16)
        if 2 * weight > size or stored.pending_bytes + weight > COMPACT_RATIO * size:
            # Most of the context changed, or the changes since the last base outweigh it: a new base.
            return self._base(ctx, key, stored, before)
        row = {
            "execution_id": key,
            "seq": stored.next_seq,
            "changes": changes,
            "entry_id": None if ref is None else uuid.UUID(ref[1]),
            "entry_key": None if ref is None else ref[0],
        }
        return CtxWrite(False, row, None, self._after(stored, 1, stored.pending_bytes + weight), before)

    def _base(self, ctx: Context, key: uuid.UUID, stored: Written, before: tuple[Any, ...] | None = None) -> CtxWrite:
        """A base row: the whole context, from which a read starts (the rows before it are deleted).

        A large context is never written into the ``ctx`` column after the row was inserted: SQLite rewrites a
        whole row on any update, so the execution's row stays small and a step's update stays cheap.
        """
        row = {
            "execution_id": key,
            "seq": stored.next_seq,
            "changes": {"base": True, "set": dict(ctx)},
            "entry_id": None,
            "entry_key": None,
        }
        return CtxWrite(False, row, stored.next_seq, self._after(stored, 1, 0), before)

    def _after(self, stored: Written, rows: int, pending: int) -> Written:
        return Written(self, stored.execution_id, stored.next_seq + rows, pending)

    def whole(self, execution: Execution, base: dict[str, Any] | None = None) -> CtxWrite:
        """A write of the whole ``ctx`` column, deleting every change row (the context is not one this store
        wrote, or ``save`` / ``transition`` write the execution as it is, a large context as ``base``)."""
        next_seq = 0 if base is None else int(base["seq"]) + 1
        return CtxWrite(True, None, EVERY_ROW, Written(self, execution.id, next_seq, 0))

    def replacing(self, execution: Execution, key: uuid.UUID) -> dict[str, Any] | None:
        """The base row of a write of ``execution`` as it is, when its context is too large for the ``ctx``
        column (:data:`WHOLE_BELOW_BYTES`); ``None`` otherwise."""
        ctx = execution.ctx if isinstance(execution.ctx, Context) else Context(execution.ctx or {})
        if ctx.measure() < WHOLE_BELOW_BYTES:
            return None
        return {
            "execution_id": key,
            "seq": 0,
            "changes": {"base": True, "set": dict(ctx)},
            "entry_id": None,
            "entry_key": None,
        }

    @staticmethod
    def reserve(execution: Execution, write: CtxWrite) -> None:
        """Record on the execution's context that ``write`` is being written (before it is: a checkpoint of the
        same context made meanwhile takes the next ``seq``); :meth:`failed` when the write fails."""
        ctx = execution.ctx = as_context(execution.ctx)
        ctx.saved(write.after)

    @staticmethod
    def failed(execution: Execution) -> None:
        """A write of the execution's context failed: the next checkpoint writes it whole."""
        if isinstance(execution.ctx, Context):
            execution.ctx.whole = True

    # -- reading --------------------------------------------------------------------------------

    def column(self, dialect: str, keys: tuple[str, ...] | None = None) -> ColumnElement[Any]:
        """The execution's change rows as one JSON array of ``[seq, changes, output, entry_key]`` (a correlated
        subquery labelled :data:`LABEL`); with ``keys``, the referenced outputs of those keys only.

        The subquery's tables are aliased and its conditions spelled out, so that it also correlates inside
        an ``UPDATE ... RETURNING`` (SQLite renders the columns there without their table).
        """
        cached = self._columns.get((dialect, keys))
        if cached is not None:
            return cached
        changes = self.table.alias("ctx_change")
        entries = self.entries.alias("ctx_entry")
        output: Any = entries.c.output
        if keys is not None:
            output = case((changes.c.entry_key.in_(keys), entries.c.output), else_=null())
        logged = _picked(dialect, keys) if keys is not None and all(SIMPLE_KEY.match(k) for k in keys) else None
        if dialect == "postgresql":
            row = (changes.c.seq, changes.c.changes if logged is None else logged, output, changes.c.entry_key)
            aggregate: Any = func.json_agg(func.json_build_array(*row)).cast(JSON)
        else:
            item = func.json_array(
                changes.c.seq,
                func.json(changes.c.changes) if logged is None else logged,
                func.json(output),
                changes.c.entry_key,
            )
            aggregate = func.json(func.json_group_array(item))
        joined = changes.outerjoin(entries, literal_column("ctx_entry.id") == literal_column("ctx_change.entry_id"))
        correlated = literal_column("ctx_change.execution_id") == literal_column(f"{self.executions.name}.id")
        labelled = select(aggregate).select_from(joined).where(correlated).scalar_subquery().label(LABEL)
        self._columns[(dialect, keys)] = labelled
        return labelled

    def rebuild(self, execution: Execution, logged: Any, keys: tuple[str, ...] | None = None) -> Execution:
        """``execution`` with its change rows (``logged``, the :meth:`column`'s value) applied to its ``ctx``.

        With ``keys`` (a list's read of some keys), only those keys are applied and the context is a plain
        partial dict; otherwise it is a :class:`Context` the store knows it wrote.
        """
        if isinstance(logged, str | bytes):
            logged = msgspec.json.decode(logged)
        items = sorted(logged or [], key=lambda item: int(item[0]))
        ctx: dict[str, Any] = execution.ctx
        if keys is not None:
            wanted = set(keys)
            for _, changes, output, entry_key in items:
                if changes.get("base"):
                    ctx.clear()
                for name in changes.get("del") or ():
                    if name in wanted:
                        ctx.pop(name, None)
                for name, value in (changes.get("set") or {}).items():
                    if name in wanted and value is not None:
                        ctx[name] = value
                if entry_key in wanted:
                    ctx[entry_key] = output
            return execution
        merged = dict(ctx)
        pending = 0
        for _, changes, output, entry_key in items:
            if changes.get("base"):
                merged, pending = dict(changes.get("set", {})), 0
                continue
            for name in changes.get("del", ()):
                merged.pop(name, None)
            merged.update(changes.get("set", {}))
            if entry_key is not None:
                merged[entry_key] = output
            pending += len(msgspec.json.encode(changes)) + (0 if entry_key is None else len(entry_key) + 16)
        next_seq = int(items[-1][0]) + 1 if items else 0
        context = Context(merged)
        context.saved(Written(self, execution.id, next_seq, pending))
        execution.ctx = context
        return execution


SIMPLE_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")
"""Keys a list's read of some ctx keys picks out of the change rows in SQL (others read the rows whole)."""


def _picked(dialect: str, keys: tuple[str, ...]) -> Any:
    """SQL building, per change row, ``{"base", "del", "set": {key: value}}`` for ``keys`` only."""
    if dialect == "postgresql":
        values = ", ".join(f"'{key}', ctx_change.changes -> 'set' -> '{key}'" for key in keys)
        return literal_column(
            "json_build_object('base', ctx_change.changes -> 'base', 'del', ctx_change.changes -> 'del', "
            f"'set', json_build_object({values}))"
        )
    values = ", ".join(f"'{key}', json(ctx_change.changes -> '$.\"set\".\"{key}\"')" for key in keys)
    return literal_column(
        "json_object('base', json(ctx_change.changes -> '$.base'), 'del', json(ctx_change.changes -> '$.del'), "
        f"'set', json_object({values}))"
    )


CHANGES_TABLE = "workflow_ctx_changes"


def changes_table_of(execution_class: type[Any], change_class: type[Any] | None) -> Table | None:
    """The change table a store uses: ``change_class``'s, else ``workflow_ctx_changes`` beside the executions
    table (``None`` when there is none: every ``ctx`` is then written whole)."""
    table: Table | None = (
        change_class.__table__
        if change_class is not None
        else execution_class.__table__.metadata.tables.get(CHANGES_TABLE)
    )
    if table is None:
        return None
    missing = [name for name in CHANGE_COLUMNS if name not in table.c]
    if missing:
        raise ValueError(f"the change table {table.name} lacks the columns {', '.join(missing)}")
    return table
