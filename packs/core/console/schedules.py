"""``/console/schedules``: the workspace's schedules (cron or interval, timezone, next runs, last run, status) with
``Pause``, ``Resume`` and ``Trigger now``, through :class:`~packs.core.schedules.service.ScheduleService` as the
API's schedule endpoints."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.audit import record_action
from packs.core.console.sessions import ConsoleUser
from packs.core.console.web import PREFIX, page
from packs.core.schedules.service import (
    ScheduleNotFoundError,
    ScheduleService,
    ScheduleView,
    calendar_of,
    schedule_key,
)

ACTIONS = {"pause": {"paused": True}, "resume": {"paused": False}}


def schedules_of(request: Request[Any, Any, Any]) -> ScheduleService:
    """The app's schedule service."""
    service: ScheduleService = request.app.state.schedule_service
    return service


def row_of(view: ScheduleView) -> dict[str, Any]:
    """What the schedules table shows of one schedule."""
    schedule = view.schedule
    zone = calendar_of(schedule).zone
    return {
        "id": str(schedule.id),
        "workflow_id": schedule.workflow_id,
        "calendar": f"cron {schedule.cron}" if schedule.cron else f"every {schedule.every_seconds} s",
        "timezone": schedule.timezone,
        "next_runs": [moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for moment in view.next_runs],
        "last_tick_at": schedule.last_tick_at,
        "paused": schedule.paused,
    }


async def _audit(db: AsyncSession, user: ConsoleUser, action: str, schedule_id: str, **details: Any) -> None:
    await record_action(
        db,
        workspace_id=user.workspace_id,
        actor_id=user.user_id,
        action=action,
        target_type="schedule",
        target_id=schedule_id,
        source="console",
        details=details or None,
    )
    await db.commit()
    await db.close()


class SchedulesController(Controller):
    """The schedules page and its buttons."""

    path = "/schedules"
    include_in_schema = False

    @get("/")
    async def index(self, request: Request[Any, Any, Any], user: ConsoleUser) -> Template:
        """Every schedule of the workspace, oldest first."""
        views, _ = await schedules_of(request).page(str(user.workspace_id), per_page=1000)
        return await page(request, "schedules.html", user, title="Schedules", schedules=[row_of(v) for v in views])

    @post("/{schedule_id:str}/{action:str}", status_code=303)
    async def act(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        user: ConsoleUser,
        schedule_id: str,
        action: str,
    ) -> Redirect:
        """``pause``, ``resume`` or ``trigger`` (one run now, opened) a schedule of the workspace."""
        service = schedules_of(request)
        workspace_id = str(user.workspace_id)
        schedule_id = str(schedule_key(schedule_id))  # as the log writes ids (any spelling in the URL)
        if action == "trigger":
            execution = await service.trigger(schedule_id, workspace_id)
            await _audit(db_session, user, "schedule_trigger", schedule_id, execution_id=execution.id)
            return Redirect(f"{PREFIX}/executions/{execution.id}", status_code=303)
        if action not in ACTIONS:
            raise ScheduleNotFoundError(f"no action {action!r}: pause, resume or trigger")
        await service.change(schedule_id, workspace_id, ACTIONS[action])
        await _audit(db_session, user, f"schedule_{action}", schedule_id)
        return Redirect(f"{PREFIX}/schedules", status_code=303)


__all__ = ["SchedulesController"]
