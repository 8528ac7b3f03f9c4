"""``/console/executions``: the list (filters in the URL, counts by status, keyset pages) and one execution's
page (header, graph, timeline, live updates, actions). Every read and action goes through the
:class:`~packs.core.workflow_api.service.WorkflowService`, in the signed-in user's workspace, as the API does."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Stream, Template
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.audit import audit_page, record_action
from packs.core.console.approvals import decision_of_page
from packs.core.console.due import due_times
from packs.core.console.forms import json_value
from packs.core.console.graph import render_graph
from packs.core.console.list_rows import execution_rows
from packs.core.console.sessions import ConsoleUser, emails_of
from packs.core.console.timeline_rows import child_rows, entry_rows
from packs.core.console.web import PREFIX, page, service_of, template
from packs.core.items import decode_cursor, encode_cursor
from packs.core.tools.errors import ValidationError
from packs.core.workflow import FINAL_STATUSES, Entry, Execution, Status, WorkflowDef
from packs.core.workflow.signals import received_signals, send_signal, waiting_for_signal
from packs.core.workflow_api.payloads import execution_id_of, failure_of
from packs.core.workflow_api.service import WorkflowService
from packs.core.workflow_api.signals import signal_request
from packs.core.workflow_api.timers import pending_timers

PER_PAGE = 50
STATUSES = tuple(str(status) for status in Status)
WAITING_FOR = ("approval", "wait", "signal", "input")
"""What a halted execution may wait for (``halt_data.type``)."""
FILTER_SUPPORT = {"waiting_for": True, "schedule": True, "time": True}
"""The filters the executions store can apply besides workflow, status and time."""
FIRST_ID = "00000000-0000-0000-0000-000000000000"
"""The smallest execution id: a keyset ``(time, FIRST_ID)`` starts with the executions created before ``time``."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
COUNT_CAP = 1_000
"""The counts by status count up to this many each, then show ``1,000+``: each an index range of at most that
many entries, the same cost at a million executions as at ten thousand (README, "The operations console")."""


@dataclass(frozen=True)
class Filters:
    """The list's filters, as the URL holds them."""

    workflow: str | None = None
    status: str | None = None
    waiting_for: str | None = None
    schedule: str | None = None
    started_after: datetime.datetime | None = None
    started_before: datetime.datetime | None = None
    raw: dict[str, str] = field(default_factory=dict)

    def query(self, **changes: str | None) -> str:
        """This URL's query with ``changes`` (a ``None`` removes a key)."""
        values = {**self.raw, **changes}
        return urlencode({key: value for key, value in values.items() if value})


def _time(raw: str, name: str) -> datetime.datetime:
    try:
        value = datetime.datetime.fromisoformat(raw)
        # In UTC, as the store compares it: a moment no UTC timestamp holds (0001-01-01T00:00+05:00) overflows.
        return (value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)).astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        raise ValidationError(f"{name}: enter a date and time (YYYY-MM-DDTHH:MM)", {name: "not a date"}) from None


def filters_of(query: dict[str, str], definitions: dict[str, WorkflowDef]) -> Filters:
    """The filters of a list URL; a value that is not one of the choices is a 422 naming it."""
    raw = {key: value.strip() for key, value in query.items() if value.strip() and key != "cursor"}
    status = raw.get("status")
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status: choose one of {', '.join(STATUSES)}", {"status": "unknown status"})
    waiting = raw.get("waiting_for")
    if waiting is not None and waiting not in WAITING_FOR:
        raise ValidationError(f"waiting_for: choose one of {', '.join(WAITING_FOR)}", {"waiting_for": "unknown"})
    schedule = raw.get("schedule")
    if schedule is not None:
        try:
            schedule = str(uuid.UUID(schedule))
        except ValueError:
            raise ValidationError("schedule: a schedule id", {"schedule": "not a schedule id"}) from None
    return Filters(
        workflow=raw.get("workflow"),
        status=status,
        waiting_for=waiting,
        schedule=schedule,
        started_after=_time(raw["from"], "from") if "from" in raw else None,
        started_before=_time(raw["to"], "to") if "to" in raw else None,
        raw=raw,
    )


@dataclass(frozen=True)
class Row:
    """One row of the executions table."""

    execution: Execution
    duration_end: datetime.datetime | None


def _row(execution: Execution) -> Row:
    ended = execution.updated_at if execution.status in FINAL_STATUSES else None
    return Row(execution, ended)


@dataclass
class Group:
    """A top-level step of the timeline: its own entries and, for a loop or parallel step, its children's."""

    step_id: str
    entries: list[tuple[Entry, int | None]] = field(default_factory=list)
    children: dict[str, list[tuple[Entry, int | None]]] = field(default_factory=dict)

    def counts(self, child: str) -> dict[str, int]:
        """How many entries of each action a child step has."""
        found: dict[str, int] = {}
        for entry, _ in self.children.get(child, []):
            found[entry.action] = found.get(entry.action, 0) + 1
        return found


def timeline(definition: WorkflowDef | None, entries: list[Entry]) -> list[Group]:
    """The entries grouped by top-level step, in the order steps first ran; each entry with its attempt (the
    entry's own: the attempt of a step with retriers it records, ``None`` for other steps, whose second start
    is a resume or another iteration, not a retry; docs/workflow-language.md, Retry and catch)."""
    parent: dict[str, str] = {}
    if definition is not None:
        for step in definition.steps:
            stack = list(step.children)
            while stack:
                child = stack.pop()
                parent[child.id] = step.id
                stack.extend(child.children)
    groups: dict[str, Group] = {}
    for entry in entries:
        attempt = entry.attempt
        top = parent.get(entry.step_id, entry.step_id)
        group = groups.setdefault(top, Group(top))
        if top == entry.step_id:
            group.entries.append((entry, attempt))
        else:
            group.children.setdefault(entry.step_id, []).append((entry, attempt))
    return list(groups.values())


def path_of(entries: list[Entry], definition: WorkflowDef | None) -> list[str]:
    """The top-level steps in the order they started."""
    path: list[str] = []
    for entry in entries:
        if entry.action != "started":
            continue
        if definition is not None and not definition.has_step(entry.step_id):
            continue
        if not path or path[-1] != entry.step_id:
            path.append(entry.step_id)
    return path


def allowed_actions(execution: Execution) -> list[str]:
    """The buttons that apply to an execution now: ``cancel`` until it ends, ``retry`` when failed, ``decide``
    when it waits for an approval."""
    actions = []
    if execution.status not in FINAL_STATUSES:
        actions.append("cancel")
        actions.append("signal")
    if execution.status == Status.FAILED:
        actions.append("retry")
    if execution.status == Status.HALTED and (execution.halt_data or {}).get("type") == "approval":
        actions.append("decide")
    return actions


async def status_counts(service: WorkflowService, workspace_id: str, filters: Filters) -> dict[str, str]:
    """How many of the workspace's executions matching the list's filters (but its status: the counts are the
    choices of that filter) have each status, in one query, as the page shows them: up to :data:`COUNT_CAP`,
    then ``1,000+``."""
    found = await service.status_counts(
        workspace_id,
        workflow_id=filters.workflow,
        schedule_id=filters.schedule,
        waiting_for=filters.waiting_for,
        created_after=filters.started_after,
        created_before=filters.started_before,
        cap=COUNT_CAP,
    )
    return {status: f"{COUNT_CAP:,}+" if number > COUNT_CAP else str(number) for status, number in found.items()}


async def detail_context(
    service: WorkflowService, user: ConsoleUser, execution_id: str, db: AsyncSession
) -> dict[str, Any]:
    """What the detail page and its live part show."""
    workspace = str(user.workspace_id)
    execution = await service.get(execution_id, workspace)
    entries = await service.entries(execution_id, workspace)
    try:
        audit = await audit_page(db, workspace, target_id=execution_id, limit=100)
        people = await emails_of(db, {execution.created_by_id, *(item.actor_id for item in audit)})
    finally:
        await db.close()
    definition = service.definitions.get(execution.workflow_id)
    path = path_of(entries, definition)
    failed = {entry.step_id for entry in entries if entry.action == "failed"}
    current = execution.current_step if execution.status not in FINAL_STATUSES else None
    graph = (
        render_graph(definition, visited=set(path), path=path, current=current, failed=failed)
        if definition is not None
        else None
    )
    return {
        "execution": execution,
        "entries": entries,
        "groups": timeline(definition, entries),
        "entry_rows": entry_rows,
        "child_rows": child_rows,
        "definition": definition,
        "graph": graph,
        "actions": allowed_actions(execution),
        "failure": failure_of(execution),
        "live": execution.status not in FINAL_STATUSES,
        "ended_at": execution.updated_at if execution.status in FINAL_STATUSES else None,
        "audit": audit,
        "signals": await received_signals(service.store, execution_id),
        "due_times": due_times(execution, await pending_timers(service.store, execution_id)),
        "waiting_signal": waiting_for_signal(execution.halt_data if execution.status == Status.HALTED else None),
        "people": people,
        "started_by": people.get(str(execution.created_by_id)),
    }


class ExecutionsController(Controller):
    """The executions pages."""

    path = "/executions"
    include_in_schema = False

    @get("/")
    async def index(self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser) -> Template:
        """The workspace's executions, newest first, filtered as the URL says, one keyset page at a time."""
        service = service_of(request)
        query = {key: values[-1] for key, values in request.query_params.dict().items() if values}
        filters = filters_of(query, dict(service.definitions))
        after = None
        cursor = query.get("cursor") or None
        if cursor is not None:
            decoded = decode_cursor(cursor)
            after = None if decoded is None else (decoded[0], str(decoded[1]))
        elif filters.started_before is not None:  # "before" is where the keyset starts: the index does the work
            after = (filters.started_before, FIRST_ID)
        found = await service.list(
            str(user.workspace_id),
            workflow_id=filters.workflow,
            status=filters.status,
            per_page=PER_PAGE,
            after=after,
            keyset=True,
            schedule_id=filters.schedule,
            waiting_for=filters.waiting_for,
        )
        executions = found.executions
        if filters.started_after is not None:  # newest first: the page ends at the first one started earlier
            executions = [execution for execution in executions if execution.created_at >= filters.started_after]
        shown = executions[:PER_PAGE]
        following = None
        if len(executions) > PER_PAGE:
            following = filters.query(cursor=encode_cursor(shown[-1].created_at, shown[-1].id))
        counts = await status_counts(service, str(user.workspace_id), filters)
        try:
            people = await emails_of(db_session, {execution.created_by_id for execution in shown})
        finally:
            await db_session.close()
        return await page(
            request,
            "executions.html",
            user,
            title="Executions",
            rows=[_row(execution) for execution in shown],
            filters=filters,
            workflows=sorted(service.definitions),
            statuses=STATUSES,
            waiting_for=WAITING_FOR,
            counts=counts,
            next_query=following,
            first_page=cursor is not None,
            people=people,
            filter_support=FILTER_SUPPORT,
            execution_rows=execution_rows,
        )

    @get("/{execution_id:str}")
    async def show(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser, execution_id: str
    ) -> Template:
        """One execution: header, graph, timeline and the actions that apply."""
        key = execution_id_of(execution_id)
        context = await detail_context(service_of(request), user, key, db_session)
        context["decision_form"] = await decision_of_page(request, user, key)
        return await page(request, "execution.html", user, title=f"Execution {key}", **context)

    @get("/{execution_id:str}/live")
    async def live(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser, execution_id: str
    ) -> Template:
        """The part of the detail page that changes while the execution runs (fetched on each event; without the
        pending approvals' count, which only the whole page shows)."""
        key = execution_id_of(execution_id)
        context = await detail_context(service_of(request), user, key, db_session)
        context["decision_form"] = await decision_of_page(request, user, key)
        return template(request, "execution_live.html", user, **context)

    @get("/{execution_id:str}/events", media_type="text/event-stream")
    async def events(self, request: Request[Any, Any, Any], user: ConsoleUser, execution_id: str) -> Stream:
        """The execution's server-sent events, for the signed-in user (the API's stream needs a bearer token)."""
        events = await service_of(request).watch(execution_id_of(execution_id), str(user.workspace_id))

        async def stream() -> AsyncIterator[str]:
            async for event in events:
                yield event.to_sse()

        return Stream(stream(), media_type="text/event-stream", headers=SSE_HEADERS)

    @post("/{execution_id:str}/cancel", status_code=303)
    async def cancel(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser, execution_id: str
    ) -> Redirect:
        """Cancel the execution, as ``POST /api/v1/workflows/executions/{id}/cancel`` does."""
        key = execution_id_of(execution_id)
        await service_of(request).cancel(key, str(user.workspace_id))
        await _audit(db_session, user, "cancel", key)
        return Redirect(f"{PREFIX}/executions/{key}", status_code=303)

    @post("/{execution_id:str}/retry", status_code=303)
    async def retry(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser, execution_id: str
    ) -> Redirect:
        """Retry the failed execution from its failed step, as the API's ``retry`` does."""
        key = execution_id_of(execution_id)
        await service_of(request).retry(key, str(user.workspace_id))
        await _audit(db_session, user, "retry", key)
        return Redirect(f"{PREFIX}/executions/{key}", status_code=303)


class SignalController(Controller):
    """``Send signal`` on an execution's page."""

    path = "/executions"
    include_in_schema = False

    @post("/{execution_id:str}/signal", status_code=303)
    async def signal(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser, execution_id: str
    ) -> Redirect:
        """Send the signal named in the form with its JSON payload, as ``POST .../signals/{name}`` does (a
        ``receive`` step waiting for it goes on); a payload that is not JSON is a 422."""
        key = execution_id_of(execution_id)
        service = service_of(request)
        await service.get(key, str(user.workspace_id))
        form = await request.form()
        fields = {field: form.get(field) or "" for field in ("name", "payload")}  # text: files were refused
        name, raw = str(fields["name"]), str(fields["payload"]).strip()
        try:
            payload = json_value(raw) if raw else None
        except ValueError as error:
            raise ValidationError(f"payload: {error}", {"payload": str(error)}) from None
        signal_name, payload, _ = signal_request(name, {"payload": payload}, None)
        sent = await send_signal(service.store, key, signal_name, payload)
        if sent.woke:  # the execution it woke: a sub-workflow's child when the signal was passed on to it
            await service.adapter.enqueue(sent.execution_id)
        await _audit(db_session, user, "signal", key, {"signal": signal_name, "woke": sent.woke})
        return Redirect(f"{PREFIX}/executions/{key}", status_code=303)


async def _audit(
    db: AsyncSession, user: ConsoleUser, action: str, execution_id: str, details: dict[str, Any] | None = None
) -> None:
    """Record a console action on an execution in the audit log."""
    await record_action(
        db,
        workspace_id=user.workspace_id,
        actor_id=user.user_id,
        action=action,
        target_id=execution_id,
        source="console",
        details=details,
    )
    await db.commit()
    await db.close()
