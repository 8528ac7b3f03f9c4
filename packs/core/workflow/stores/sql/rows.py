"""Rows of the SQL store's tables: engine executions and entries to column values and back."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from packs.core.workflow.model import Entry, Execution

UPDATED_ON_SAVE = (
    "status",
    "ctx",
    "current_step",
    "result",
    "recover_to",
    "halt_data",
    "error",
    "updated_at",
)
"""Columns a save or checkpoint of an existing execution writes: those that can change. The others (id,
workflow, input, creation time, ownership, definition, attempts, lease) are written when the row is inserted
or by the lease methods only (an UPDATE that rewrote ``input`` would copy it into every new row version)."""

LEASE_COLUMNS = frozenset({"lease_owner", "lease_expires_at"})
"""Columns only the lease methods write."""


def validate_values(model: type[Any], values: dict[str, Any]) -> None:
    """The model's checks on ``values`` (``validate_values``, else ``validate()`` on a transient row)."""
    validate_values = getattr(model, "validate_values", None)
    if callable(validate_values):
        validate_values(values)
        return
    validate = getattr(model(**values), "validate", None)
    if callable(validate):
        validate()


def plain_text(value: object) -> Any:
    """A str-enum member as its plain string (drivers want ``str``); anything else unchanged."""
    return str(value) if isinstance(value, str) else value


def to_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"the SQL store needs UUIDs: {what} {value!r} is not one") from None


def uuid_or_none(value: str | uuid.UUID | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def aware(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def execution_from_row(row: Any) -> Execution:
    """An engine execution from a ``workflow_executions`` row mapping."""
    return Execution(
        id=str(row["id"]),
        workflow_id=row["workflow_id"],
        status=row["status"],
        input=row["input"] if row["input"] is not None else {},
        ctx=row["ctx"] if row["ctx"] is not None else {},
        current_step=row["current_step"],
        result=row["result"],
        recover_to=row["recover_to"],
        halt_data=row["halt_data"],
        error=row["error"],
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        workspace_id=text_or_none(row.get("workspace_id")),
        created_by_id=text_or_none(row.get("created_by_id")),
        schedule_id=text_or_none(row.get("schedule_id")),
        definition_version=row.get("definition_version"),
        definition_hash=row.get("definition_hash"),
        attempts=row.get("attempts") or 0,
        lease_owner=row.get("lease_owner"),
        lease_expires_at=aware(row["lease_expires_at"]) if row.get("lease_expires_at") is not None else None,
    )


def text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def entry_from_row(row: Any) -> Entry:
    """An engine entry from a ``workflow_entries`` row mapping."""
    return Entry(
        id=str(row["id"]),
        execution_id=str(row["execution_id"]),
        step_id=row["step_id"],
        step_type=row["step_type"],
        action=row["action"],
        duration_ms=row["duration_ms"],
        input=row["input"],
        output=row["output"],
        error=row["error"],
        timestamp=aware(row["timestamp"]),
        attempt=row.get("attempt"),
    )
