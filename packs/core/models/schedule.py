"""Workspace schedules of workflows (``workflow_schedules``; docs/http-api.md, Schedules).

A schedule starts executions of one workflow on a calendar: a five-field ``cron`` in an IANA
``timezone`` or ``every`` N seconds. Besides what the caller set, a row keeps where the schedule is on
its calendar: ``last_tick_at`` (the latest tick handled: run, skipped or buffered), ``next_tick_at``
(the tick it waits for; ``None`` while paused) and ``buffered_tick_at`` (``overlap: buffer_one``: a tick
that runs once the unfinished run ends). It shares the workflow tables' registry and metadata.
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID, uuid4

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from packs.core.models.workflow import EMPTY_JSON_OBJECT, JsonOrNull, WorkflowBase

OVERLAP_POLICIES: tuple[str, ...] = ("skip", "buffer_one", "allow_all", "cancel_other")
"""What a tick does while an earlier run of its schedule is unfinished (docs/http-api.md, Schedules)."""

CATCH_UP_POLICIES: tuple[str, ...] = ("none", "latest", "all")
"""What happens to ticks missed while every process was down (docs/http-api.md, Schedules)."""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class WorkflowSchedule(WorkflowBase):
    """One schedule of a workflow in a workspace (``workflow_schedules``)."""

    __tablename__ = "workflow_schedules"

    id: Mapped[UUID] = mapped_column(GUID(length=16), primary_key=True, default=uuid4)
    workspace_id: Mapped[UUID] = mapped_column(
        GUID(length=16), ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    workflow_id: Mapped[str] = mapped_column(String(), nullable=False)
    created_by_id: Mapped[UUID | None] = mapped_column(
        GUID(length=16), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    cron: Mapped[str | None] = mapped_column(String(), nullable=True)
    every_seconds: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    timezone: Mapped[str] = mapped_column(String(), nullable=False, default="UTC", server_default="UTC")
    input: Mapped[dict[str, Any]] = mapped_column(
        JsonOrNull, nullable=False, default=dict, server_default=EMPTY_JSON_OBJECT
    )
    overlap: Mapped[str] = mapped_column(String(), nullable=False, default="skip", server_default="skip")
    catch_up: Mapped[str] = mapped_column(String(), nullable=False, default="latest", server_default="latest")
    catch_up_window: Mapped[int] = mapped_column(Integer(), nullable=False, default=86400, server_default="86400")
    jitter: Mapped[int] = mapped_column(Integer(), nullable=False, default=0, server_default="0")
    paused: Mapped[bool] = mapped_column(Boolean(), nullable=False, default=False, server_default=false())
    last_tick_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    next_tick_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    buffered_tick_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), nullable=False, default=_now)
    updated_at: Mapped[datetime.datetime] = mapped_column(
        DateTimeUTC(timezone=True), nullable=False, default=_now, onupdate=_now
    )

    __table_args__ = (
        Index("ix_workflow_schedules_workspace_created", "workspace_id", "created_at", "id"),
        Index("ix_workflow_schedules_next_tick_at", "next_tick_at"),
    )
