"""The schedule endpoints (docs/http-api.md, Schedules): create a workflow's schedule, list, show, change,
delete and trigger the caller's workspace's schedules.

HTTP only: every call goes through :class:`~packs.core.schedules.service.ScheduleService`
(``app.state.schedule_service``) with the caller's identity; another workspace's schedule is answered
exactly as one that does not exist (404). Error bodies are the workflow endpoints' own.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.openapi.spec import OpenAPIType, Reference, Schema
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.http import API_PREFIX
from packs.core.items import MAX_PAGE
from packs.core.models.schedule import CATCH_UP_POLICIES, OVERLAP_POLICIES
from packs.core.schedules.requests import MAX_JITTER_SECONDS, MAX_SECONDS
from packs.core.schedules.service import Actor, ScheduleNotFoundError, ScheduleService, ScheduleView, calendar_of
from packs.core.tools.errors import ValidationError
from packs.core.workflow_api.controller import (
    EXCEPTION_HANDLERS,
    WorkflowApiController,
    errors,
    identify,
    json_object,
    not_found,
)
from packs.core.workflow_api.payloads import (
    EXECUTIONS_PATH,
    ExecutionAnswer,
    documented,
    execution_answer,
    query_number,
    query_parameter,
)

SCHEDULES_PATH = f"{API_PREFIX}/workflows/schedules"
MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100


class ScheduleOut(msgspec.Struct):
    """A schedule: its calendar (``cron`` or ``every``, ``timezone``), the run input and policies, whether it
    is paused, and where it is: ``next_runs`` (the next five fire times, in its timezone; none while
    paused), ``last_tick_at`` and ``next_tick_at`` (UTC)."""

    id: str
    workflow_id: str
    workspace_id: str
    created_by_id: str | None
    cron: str | None
    every: int | None
    timezone: str
    input: dict[str, Any]
    overlap: str
    catch_up: str
    catch_up_window: int
    jitter: int
    paused: bool
    next_runs: list[str]
    last_tick_at: str | None
    next_tick_at: str | None
    created_at: str
    updated_at: str
    url: str
    runs_url: str
    """The schedule's runs: the executions list filtered by ``schedule_id``."""


class ScheduleAnswer(msgspec.Struct):
    """One schedule: ``{"data": schedule}``."""

    data: ScheduleOut


class SchedulePageMeta(msgspec.Struct):
    page: int
    per_page: int
    total: int


class ScheduleList(msgspec.Struct):
    """``GET /api/v1/workflows/schedules``: the workspace's schedules, oldest first."""

    data: list[ScheduleOut]
    meta: SchedulePageMeta


def _iso(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(datetime.UTC).isoformat()


def schedule_out(view: ScheduleView) -> ScheduleOut:
    """The API's view of a schedule."""
    row = view.schedule
    zone = calendar_of(row).zone
    return ScheduleOut(
        id=str(row.id),
        workflow_id=row.workflow_id,
        workspace_id=str(row.workspace_id),
        created_by_id=None if row.created_by_id is None else str(row.created_by_id),
        cron=row.cron,
        every=row.every_seconds,
        timezone=row.timezone,
        input=dict(row.input or {}),
        overlap=row.overlap,
        catch_up=row.catch_up,
        catch_up_window=row.catch_up_window,
        jitter=row.jitter,
        paused=row.paused,
        next_runs=[moment.astimezone(zone).isoformat() for moment in view.next_runs],
        last_tick_at=_iso(row.last_tick_at),
        next_tick_at=None if row.paused else _iso(row.next_tick_at),
        created_at=row.created_at.isoformat(),
        updated_at=row.updated_at.isoformat(),
        url=f"{SCHEDULES_PATH}/{row.id}",
        runs_url=f"{EXECUTIONS_PATH}?schedule_id={row.id}",
    )


def _page_numbers(request: Request[Any, Any, Any]) -> tuple[int, int]:
    problems: dict[str, str] = {}

    def number(name: str, default: int, high: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        value = query_number(raw)
        if value is None or not 1 <= value <= high:
            problems[name] = f"must be a whole number from 1 to {high:,}, got {raw!r}"
            return default
        return value

    page = number("page", 1, MAX_PAGE)
    per_page = number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    if problems:
        raise ValidationError("Invalid parameters", problems)
    return page, per_page


SCHEDULE_ERRORS = {
    404: "No such workflow, or no such schedule in this workspace",
    422: "Invalid fields (a bad cron, timezone, policy, number or input); details names each one",
}
"""What the schedules' 404 and 422 mean (:func:`~packs.core.workflow_api.controller.errors`)."""


def schedules_of(request: Request[Any, Any, Any]) -> ScheduleService:
    """The app's schedule service."""
    service: ScheduleService = request.app.state.schedule_service
    return service


def _schedule_body(description: str) -> tuple[str, dict[str, Schema | Reference]]:
    """The request body of a create or a change: a schedule's fields (docs/http-api.md, Schedules)."""
    return description, {
        "cron": Schema(type=OpenAPIType.STRING, description="Five fields, e.g. '0 2 * * *' (or give every)."),
        "every": Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_SECONDS, description="Seconds between runs."),
        "timezone": Schema(type=OpenAPIType.STRING, description="An IANA timezone name (default UTC)."),
        "input": Schema(type=OpenAPIType.OBJECT, description="The workflow's input for every run."),
        "overlap": Schema(type=OpenAPIType.STRING, enum=list(OVERLAP_POLICIES), description="Default skip."),
        "catch_up": Schema(type=OpenAPIType.STRING, enum=list(CATCH_UP_POLICIES), description="Default latest."),
        "catch_up_window": Schema(
            type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_SECONDS, description="Seconds (default 86400)."
        ),
        "jitter": Schema(
            type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_JITTER_SECONDS, description="Seconds (default 0)."
        ),
        "paused": Schema(type=OpenAPIType.BOOLEAN, description="Default false."),
    }


CREATE_OPERATION = documented(body=_schedule_body("The schedule: cron or every, and any other field."))
CHANGE_OPERATION = documented(body=_schedule_body('The fields to change; {"paused": true} pauses.'))
SCHEDULE_LIST_OPERATION = documented(
    query=[
        query_parameter(
            "page", Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_PAGE, default=1), "The page, from 1."
        ),
        query_parameter(
            "per_page",
            Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_PER_PAGE, default=DEFAULT_PER_PAGE),
            f"Schedules per page (default {DEFAULT_PER_PAGE}, at most {MAX_PER_PAGE}).",
        ),
    ]
)


class SchedulesController(WorkflowApiController):
    """``/api/v1/workflows/.../schedules``: the caller's workspace's schedules."""

    tags = ["schedules"]
    exception_handlers = {ScheduleNotFoundError: not_found, **EXCEPTION_HANDLERS}

    @post(
        "/{workflow_id:str}/schedules",
        status_code=201,
        summary="Create a schedule",
        operation_id="workflows_schedules_create",
        responses=errors(404, 413, 422, described=SCHEDULE_ERRORS),
        operation_class=CREATE_OPERATION,
    )
    async def create_schedule(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, workflow_id: str
    ) -> Response[ScheduleAnswer]:
        """A schedule of the workflow in the caller's workspace: `{"cron": "0 2 * * *"}` or `{"every": 60}`, with
        `timezone` (IANA, default UTC), `input`, `overlap` (skip, buffer_one, allow_all, cancel_other; default
        skip), `catch_up` (none, latest, all; default latest), `catch_up_window` (seconds, default 86400),
        `jitter` (seconds, default 0) and `paused` (default false). Its runs have the caller as requester."""
        identity = await identify(request, db_session)
        service = schedules_of(request)
        service.workflows.definition(workflow_id)  # an unknown workflow answers 404 before the body is read
        view = await service.create(
            workflow_id,
            await json_object(request),
            workspace_id=str(identity.workspace_id),
            user_id=str(identity.user_id),
            actor=Actor(str(identity.user_id)),
        )
        out = schedule_out(view)
        return Response(ScheduleAnswer(out), status_code=201, headers={"Location": out.url})

    @get(
        "/schedules",
        summary="List schedules",
        operation_id="workflows_schedules_list",
        responses=errors(422, described=SCHEDULE_ERRORS),
        operation_class=SCHEDULE_LIST_OPERATION,
    )
    async def list_schedules(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, workflow_id: str | None = None
    ) -> ScheduleList:
        """The workspace's schedules, oldest first (only `workflow_id`'s when given), by `page` and `per_page`
        (default 100, at most 1000)."""
        identity = await identify(request, db_session)
        page, per_page = _page_numbers(request)
        views, total = await schedules_of(request).page(
            str(identity.workspace_id), workflow_id=workflow_id, page=page, per_page=per_page
        )
        return ScheduleList([schedule_out(view) for view in views], SchedulePageMeta(page, per_page, total))

    @get(
        "/schedules/{schedule_id:str}",
        summary="Show a schedule",
        operation_id="workflows_schedules_show",
        responses=errors(404, described=SCHEDULE_ERRORS),
    )
    async def show_schedule(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, schedule_id: str
    ) -> ScheduleAnswer:
        """One schedule with `next_runs`, its next five fire times."""
        identity = await identify(request, db_session)
        return ScheduleAnswer(schedule_out(await schedules_of(request).get(schedule_id, str(identity.workspace_id))))

    @patch(
        "/schedules/{schedule_id:str}",
        summary="Change, pause or resume a schedule",
        operation_id="workflows_schedules_change",
        responses=errors(404, 413, 422, described=SCHEDULE_ERRORS),
        operation_class=CHANGE_OPERATION,
    )
    async def change_schedule(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, schedule_id: str
    ) -> ScheduleAnswer:
        """Change the fields given (those of a create); `{"paused": true}` pauses, `{"paused": false}` resumes.
        A new calendar or a resume counts ticks from now: those before are not caught up."""
        identity = await identify(request, db_session)
        service = schedules_of(request)
        workspace_id = str(identity.workspace_id)
        await service.get(schedule_id, workspace_id)  # another workspace's schedule answers 404 before the body
        view = await service.change(
            schedule_id, workspace_id, await json_object(request), actor=Actor(str(identity.user_id))
        )
        return ScheduleAnswer(schedule_out(view))

    @delete(
        "/schedules/{schedule_id:str}",
        status_code=204,
        summary="Delete a schedule",
        operation_id="workflows_schedules_delete",
        responses=errors(404, described=SCHEDULE_ERRORS),
    )
    async def delete_schedule(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, schedule_id: str
    ) -> None:
        """Delete the schedule; its runs stay (with their `schedule_id`), unfinished ones go on."""
        identity = await identify(request, db_session)
        await schedules_of(request).delete(schedule_id, str(identity.workspace_id), actor=Actor(str(identity.user_id)))

    @post(
        "/schedules/{schedule_id:str}/trigger",
        status_code=202,
        summary="Run a schedule now",
        operation_id="workflows_schedules_trigger",
        responses=errors(404, 422, described=SCHEDULE_ERRORS),
    )
    async def trigger_schedule(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, schedule_id: str
    ) -> Response[ExecutionAnswer]:
        """Start one run now, as a tick would (the schedule's input, creator and workspace), whatever the
        calendar, pause and overlap policy: 202 with the execution."""
        identity = await identify(request, db_session)
        execution = await schedules_of(request).trigger(
            schedule_id, str(identity.workspace_id), actor=Actor(str(identity.user_id))
        )
        body = execution_answer(execution)
        return Response(body, status_code=202, headers={"Location": body.meta.url})


__all__ = ["SchedulesController", "schedule_out"]
