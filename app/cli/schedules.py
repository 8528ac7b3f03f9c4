"""``packflow workflows schedules``: list, create, pause, resume, delete and trigger workspace schedules
(README, Operator commands; docs/http-api.md, Schedules).

Each command prints JSON: a schedule as the HTTP API shows it (``list`` prints one per line), or the
execution ``trigger`` started. A bad field exits 1 with the problem named, changing nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import msgspec
from litestar import Litestar
from litestar.cli._utils import LitestarGroup

from app.cli.running import packflow_plugin, run_command
from app.cli.workflows import _json_option
from app.workflow_owner import OwnerError, find_workspace, resolve_owner
from app.workflows import WorkflowRuntime
from packs.core.schedules.service import Actor, ScheduleNotFoundError, ScheduleService
from packs.core.tools.errors import ValidationError
from packs.core.workflow_api.payloads import execution_out
from packs.core.workflow_api.schedules import schedule_out
from packs.core.workflow_api.service import UnknownWorkflowError

T = TypeVar("T")

OPERATOR = Actor(None, "cli")
"""The audit log's actor of these commands: an operator (no user), from the command line."""


def _schedules(app: Litestar) -> ScheduleService:
    runtime: WorkflowRuntime = app.state.workflows
    assert runtime.schedules is not None
    return runtime.schedules


def _echo(value: Any) -> None:
    click.echo(msgspec.json.encode(value).decode())


def _run(app: Litestar, work: Callable[[], Awaitable[T]]) -> T:
    """:func:`run_command`, with a schedule's problems printed as ``Error: ...`` and exit status 1."""

    async def guarded() -> T:
        try:
            return await work()
        except (ValidationError, ScheduleNotFoundError, UnknownWorkflowError, OwnerError) as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(1)

    return run_command(app, guarded)


@click.group(cls=LitestarGroup, name="schedules")
def schedules_group() -> None:
    """Workspace schedules of workflows: cron or every N seconds, in an IANA timezone."""


@schedules_group.command(name="list")
@click.option("--workspace", required=True, help="The workspace (id or name).")
@click.option("--workflow", "workflow_id", default=None, help="Only the schedules of this workflow.")
def list_schedules(app: Litestar, workspace: str, workflow_id: str | None) -> None:
    """The workspace's schedules, oldest first, one JSON object per line."""
    service = _schedules(app)

    async def work() -> None:
        async with packflow_plugin(app).db.create_session_maker()() as session:
            found = await find_workspace(session, workspace)
        page = 1
        while True:
            views, total = await service.page(str(found.id), workflow_id=workflow_id, page=page, per_page=1000)
            for view in views:
                _echo(schedule_out(view))
            if page * 1000 >= total:
                return
            page += 1

    _run(app, work)


@schedules_group.command(name="create")
@click.argument("workflow_id")
@click.option("--workspace", default=None, help="The workspace (id or name); default: the user's only one.")
@click.option("--user", required=True, help="The user its runs are started as (id or email), a member.")
@click.option("--cron", default=None, help="A five-field cron, e.g. '0 2 * * *'.")
@click.option("--every", type=int, default=None, help="Or: every N seconds.")
@click.option("--timezone", default=None, help="An IANA timezone for the cron (default UTC).")
@click.option("--input", "input_json", default=None, help="The runs' input, a JSON object.")
@click.option("--overlap", default=None, help="skip (default), buffer_one, allow_all or cancel_other.")
@click.option("--catch-up", "catch_up", default=None, help="latest (default), none or all.")
@click.option("--catch-up-window", type=int, default=None, help="Seconds (default 86400).")
@click.option("--jitter", type=int, default=None, help="Seconds (default 0).")
@click.option("--paused", is_flag=True, help="Create it paused.")
def create_schedule(
    app: Litestar,
    workflow_id: str,
    workspace: str | None,
    user: str,
    cron: str | None,
    every: int | None,
    timezone: str | None,
    input_json: str | None,
    overlap: str | None,
    catch_up: str | None,
    catch_up_window: int | None,
    jitter: int | None,
    paused: bool,
) -> None:
    """Create a schedule of WORKFLOW_ID and print it (with its next five runs)."""
    body: dict[str, Any] = {
        name: value
        for name, value in (
            ("cron", cron),
            ("every", every),
            ("timezone", timezone),
            ("input", _json_option(input_json, "--input")),
            ("overlap", overlap),
            ("catch_up", catch_up),
            ("catch_up_window", catch_up_window),
            ("jitter", jitter),
        )
        if value is not None
    }
    if paused:
        body["paused"] = True
    service = _schedules(app)

    async def work() -> None:
        async with packflow_plugin(app).db.create_session_maker()() as session:
            owner = await resolve_owner(session, workspace, user, {})
        assert owner.workspace_id is not None
        assert owner.user_id is not None
        view = await service.create(
            workflow_id, body, workspace_id=str(owner.workspace_id), user_id=str(owner.user_id), actor=OPERATOR
        )
        _echo(schedule_out(view))

    _run(app, work)


def _on_schedule(app: Litestar, schedule_id: str, act: Callable[[ScheduleService, str], Awaitable[Any]]) -> None:
    service = _schedules(app)

    async def work() -> None:
        result = await act(service, await service.workspace_of(schedule_id))
        if result is not None:
            _echo(result)

    _run(app, work)


@schedules_group.command(name="pause")
@click.argument("schedule_id")
def pause_schedule(app: Litestar, schedule_id: str) -> None:
    """Pause SCHEDULE_ID: no tick runs until it is resumed."""

    async def act(service: ScheduleService, workspace_id: str) -> Any:
        return schedule_out(await service.change(schedule_id, workspace_id, {"paused": True}, actor=OPERATOR))

    _on_schedule(app, schedule_id, act)


@schedules_group.command(name="resume")
@click.argument("schedule_id")
def resume_schedule(app: Litestar, schedule_id: str) -> None:
    """Resume SCHEDULE_ID: its ticks count from now (those while paused are not caught up)."""

    async def act(service: ScheduleService, workspace_id: str) -> Any:
        return schedule_out(await service.change(schedule_id, workspace_id, {"paused": False}, actor=OPERATOR))

    _on_schedule(app, schedule_id, act)


@schedules_group.command(name="delete")
@click.argument("schedule_id")
def delete_schedule(app: Litestar, schedule_id: str) -> None:
    """Delete SCHEDULE_ID (its runs stay)."""

    async def act(service: ScheduleService, workspace_id: str) -> Any:
        await service.delete(schedule_id, workspace_id, actor=OPERATOR)
        return {"deleted": schedule_id}

    _on_schedule(app, schedule_id, act)


@schedules_group.command(name="trigger")
@click.argument("schedule_id")
def trigger_schedule(app: Litestar, schedule_id: str) -> None:
    """Start one run of SCHEDULE_ID now and print the execution (it runs on the queue's workers)."""

    async def act(service: ScheduleService, workspace_id: str) -> Any:
        return execution_out(await service.trigger(schedule_id, workspace_id, actor=OPERATOR))

    _on_schedule(app, schedule_id, act)


__all__ = ["schedules_group"]
