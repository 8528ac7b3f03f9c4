"""Workflow executions and their entries: the tables of the SQL workflow store.

The columns are the store's ``Execution`` and ``Entry`` fields (docs/workflow-language.md, section 1,
Stores) as the ``workflow_executions`` / ``workflow_entries`` tables, nothing more: unlike the other
core models these are not built on advanced-alchemy's ``UUIDBase`` (which adds an
``sa_orm_sentinel`` column), but they share its registry and metadata so that Alembic sees them.
Their validations (presence and inclusion) run from a ``before_flush`` event, so an invalid row
raises :class:`WorkflowModelValidationError` before anything is written.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Self
from uuid import UUID, uuid4

from advanced_alchemy.base import AdvancedDeclarativeBase, CommonTableAttributes
from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import JSON, ForeignKey, Index, Integer, Select, String, Text, UniqueConstraint, event, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column, relationship

STATUSES: tuple[str, ...] = ("pending", "running", "completed", "failed", "halted", "cancelled")
"""An execution's statuses (docs/workflow-language.md, section 1, ``Execution``); ``pending`` is queued, not started."""

ACTIONS: tuple[str, ...] = ("started", "completed", "failed", "halted")
"""What an entry records about a step."""

JsonOrNull = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""advanced-alchemy's ``JsonB`` (``jsonb`` on PostgreSQL, JSON text elsewhere), storing ``None`` as SQL ``NULL``.

With ``JsonB`` a Python ``None`` would be written as the JSON value ``null``; here a missing
result or halt payload is a real ``NULL``.
"""

EMPTY_JSON_OBJECT = text("'{}'")
"""The server default of ``input`` and ``ctx``: an empty JSON object."""


class WorkflowModelValidationError(ValueError):
    """A workflow row breaks one of the model's validations; raised before anything is written.

    ``model`` is the class name and ``errors`` maps each invalid field to its problem.
    """

    def __init__(self, model: str, errors: dict[str, str]) -> None:
        self.model = model
        self.errors = dict(errors)
        super().__init__("; ".join(f"{model}.{field} {problem}" for field, problem in errors.items()))


def _blank(value: object) -> bool:
    """Blank, for the values these columns hold: ``None`` or a whitespace-only string."""
    return value is None or (isinstance(value, str) and not value.strip())


def _check_presence(errors: dict[str, str], values: Mapping[str, object], *fields: str) -> None:
    for name in fields:
        value = values.get(name)
        if _blank(value):
            errors[name] = f"must not be blank, got {value!r}"


def _check_inclusion(errors: dict[str, str], values: Mapping[str, object], name: str, allowed: tuple[str, ...]) -> None:
    value = values.get(name)
    if name not in errors and value not in allowed:
        errors[name] = f"must be one of {', '.join(allowed)}, got {value!r}"


class _Attributes(Mapping[str, object]):
    """A row's attributes read as a mapping (so one set of checks serves rows and plain values)."""

    def __init__(self, row: object) -> None:
        self._row = row

    def __getitem__(self, name: str) -> object:
        try:
            return getattr(self._row, name)
        except AttributeError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class WorkflowBase(CommonTableAttributes, AdvancedDeclarativeBase, AsyncAttrs):
    """The workflow tables' base: advanced-alchemy's registry and metadata, no extra columns."""

    __abstract__ = True

    def validate(self) -> None:
        """Raise :class:`WorkflowModelValidationError` when the row breaks a validation."""


LEASED = text("status IN ('pending', 'running')")
"""The executions the recovery sweep reads by lease expiry (the rows of ``ix_workflow_executions_status_lease``)."""
STARTED_BY_SOMEONE = text("created_by_id IS NOT NULL")
"""The executions a user started (the rows of ``ix_workflow_executions_created_by_id``)."""
SCHEDULED = text("schedule_id IS NOT NULL")
"""The executions a schedule started (the rows of ``ix_workflow_executions_schedule_created``)."""


def rows_where(condition: Any) -> dict[str, Any]:
    """An index's keyword arguments making it partial, on PostgreSQL and SQLite alike."""
    return {"postgresql_where": condition, "sqlite_where": condition}


class WorkflowExecution(WorkflowBase):
    """One run of a workflow (``workflow_executions``)."""

    __tablename__ = "workflow_executions"

    STATUSES: ClassVar[tuple[str, ...]] = STATUSES

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    workflow_id: Mapped[str] = mapped_column(String(), nullable=False, index=True)
    status: Mapped[str] = mapped_column(
        String(), nullable=False, default="running", server_default="running", index=True
    )
    input: Mapped[dict[str, Any] | None] = mapped_column(
        JsonOrNull, nullable=True, default=dict, server_default=EMPTY_JSON_OBJECT
    )
    ctx: Mapped[dict[str, Any] | None] = mapped_column(
        JsonOrNull, nullable=True, default=dict, server_default=EMPTY_JSON_OBJECT
    )
    current_step: Mapped[str | None] = mapped_column(String(), nullable=True)
    result: Mapped[Any] = mapped_column(JsonOrNull, nullable=True)
    recover_to: Mapped[str | None] = mapped_column(String(), nullable=True)
    halt_data: Mapped[dict[str, Any] | None] = mapped_column(JsonOrNull, nullable=True)
    error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), nullable=False, default=lambda: datetime.datetime.now(datetime.UTC), index=True
    )
    updated_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True),
        nullable=False,
        default=lambda: datetime.datetime.now(datetime.UTC),
        onupdate=lambda: datetime.datetime.now(datetime.UTC),
    )
    # Added by migration 0003 (queued execution, ownership, definition versions).
    workspace_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    created_by_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)
    definition_version: Mapped[str | None] = mapped_column(String(), nullable=True)
    definition_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer(), nullable=False, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(), nullable=True)
    lease_expires_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    # Added by migration 0009: the schedule a run came from (no foreign key: runs outlive their schedule).
    schedule_id: Mapped[UUID | None] = mapped_column(GUID(length=16), nullable=True)

    __table_args__ = (
        # Partial indexes hold only the rows their lookups read: each index is written by every update of a row
        # it holds (migration 0013).
        Index("ix_workflow_executions_status_lease", "status", "lease_expires_at", **rows_where(LEASED)),
        Index("ix_workflow_executions_created_by_id", "created_by_id", **rows_where(STARTED_BY_SOMEONE)),
        # The order and keyset of the executions list (migration 0004); also the lookups by workspace.
        Index("ix_workflow_executions_workspace_created", "workspace_id", "created_at", "id"),
        # The executions list filtered by schedule (migration 0009).
        Index("ix_workflow_executions_schedule_created", "schedule_id", "created_at", "id", **rows_where(SCHEDULED)),
        # The console's counts by status and the status-filtered list (migration 0010).
        Index("ix_workflow_executions_workspace_status", "workspace_id", "status", "created_at", "id"),
        # The list filtered by workflow, and by workflow and status, and a workflow's counts (migration 0012).
        Index("ix_workflow_executions_workspace_workflow", "workspace_id", "workflow_id", "created_at", "id"),
        Index(
            "ix_workflow_executions_workspace_workflow_status",
            "workspace_id",
            "workflow_id",
            "status",
            "created_at",
            "id",
        ),
    )

    entries: Mapped[list[WorkflowEntry]] = relationship(
        back_populates="execution",
        cascade="all, delete-orphan",
        order_by="WorkflowEntry.timestamp",
    )

    def __init__(self, **values: Any) -> None:
        """A new row; ``status``, ``input`` and ``ctx`` hold their column defaults already before a flush."""
        values.setdefault("status", "running")
        values.setdefault("input", {})
        values.setdefault("ctx", {})
        super().__init__(**values)

    def validate(self) -> None:
        """Presence of ``workflow_id`` and ``status``; ``status`` one of :data:`STATUSES`."""
        self.validate_values(_Attributes(self))

    @classmethod
    def validate_values(cls, values: Mapping[str, object]) -> None:
        """The checks of :meth:`validate` on column values about to be written."""
        errors: dict[str, str] = {}
        _check_presence(errors, values, "workflow_id", "status")
        _check_inclusion(errors, values, "status", STATUSES)
        if errors:
            raise WorkflowModelValidationError(cls.__name__, errors)

    @classmethod
    def with_status(cls, status: str) -> Select[tuple[Self]]:
        """Executions whose status is ``status``."""
        return select(cls).where(cls.status == status)

    @classmethod
    def cancelled(cls) -> Select[tuple[Self]]:
        """Executions stopped by a cancel request."""
        return cls.with_status("cancelled")

    @classmethod
    def pending(cls) -> Select[tuple[Self]]:
        """Executions queued and not started yet."""
        return cls.with_status("pending")

    @classmethod
    def running(cls) -> Select[tuple[Self]]:
        """Executions in progress (``status = 'running'``)."""
        return cls.with_status("running")

    @classmethod
    def completed(cls) -> Select[tuple[Self]]:
        """Executions that finished (``status = 'completed'``)."""
        return cls.with_status("completed")

    @classmethod
    def failed(cls) -> Select[tuple[Self]]:
        """Executions that failed (``status = 'failed'``)."""
        return cls.with_status("failed")

    @classmethod
    def halted(cls) -> Select[tuple[Self]]:
        """Executions waiting to be resumed (``status = 'halted'``)."""
        return cls.with_status("halted")


class WorkflowEntry(WorkflowBase):
    """One event of one step of an execution (``workflow_entries``)."""

    __tablename__ = "workflow_entries"

    ACTIONS: ClassVar[tuple[str, ...]] = ACTIONS

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    execution_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("workflow_executions.id"), nullable=False, index=True
    )
    step_id: Mapped[str] = mapped_column(String(), nullable=False, index=True)
    step_type: Mapped[str] = mapped_column(String(), nullable=False)
    action: Mapped[str] = mapped_column(String(), nullable=False)
    duration_ms: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    input: Mapped[Any] = mapped_column(JsonOrNull, nullable=True)
    output: Mapped[Any] = mapped_column(JsonOrNull, nullable=True)
    error: Mapped[str | None] = mapped_column(Text(), nullable=True)
    timestamp: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), nullable=False, index=True)
    # Added by migration 0008: which attempt of a step with retriers the entry records.
    attempt: Mapped[int | None] = mapped_column(Integer(), nullable=True)

    execution: Mapped[WorkflowExecution] = relationship(back_populates="entries")

    def validate(self) -> None:
        """Presence of ``step_id``, ``step_type``, ``action`` and ``timestamp``; ``action`` one of :data:`ACTIONS`."""
        self.validate_values(_Attributes(self))

    @classmethod
    def validate_values(cls, values: Mapping[str, object]) -> None:
        """The checks of :meth:`validate` on column values about to be written."""
        errors: dict[str, str] = {}
        _check_presence(errors, values, "step_id", "step_type", "action", "timestamp")
        _check_inclusion(errors, values, "action", ACTIONS)
        if errors:
            raise WorkflowModelValidationError(cls.__name__, errors)


class WorkflowDefinition(WorkflowBase):
    """A snapshot of a workflow definition an execution started with (``workflow_definitions``).

    Executions record the ``content_hash`` of their definition; a worker resuming one after a deploy
    that changed the workflow loads this snapshot instead of the new file.
    """

    __tablename__ = "workflow_definitions"

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    workflow_id: Mapped[str] = mapped_column(String(), nullable=False)
    version: Mapped[str] = mapped_column(String(), nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[dict[str, Any]] = mapped_column(JsonOrNull, nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), nullable=False, default=lambda: datetime.datetime.now(datetime.UTC)
    )

    __table_args__ = (UniqueConstraint("workflow_id", "content_hash", name="uq_workflow_definitions_hash"),)


@event.listens_for(Session, "before_flush")
def validate_workflow_rows(session: Session, _context: UOWTransaction, _instances: object) -> None:
    """Validate every new or changed workflow row before the flush writes anything (async sessions too)."""
    for row in (*session.new, *session.dirty):
        if isinstance(row, WorkflowBase) and row not in session.deleted:
            row.validate()
