"""The workflow endpoints: list workflows, start, list, show, resume, cancel, retry and watch executions.

HTTP only: every call goes through :class:`WorkflowService` (``app.state.workflow_service``) with the
caller's identity, and the service fills and checks the identity inputs and finds executions in the
caller's workspace, so another workspace's execution is answered exactly as one that does not exist (404).
Authentication and error bodies are the base controller's (:mod:`.controller`): ``{"error": message}``,
plus ``details`` naming the fields of a 422. See docs/http-api.md, Workflow executions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

from litestar import Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.tools.errors import ValidationError
from packs.core.workflow import SETTLED, Status
from packs.core.workflow.signals import received_signals
from packs.core.workflow_api.approvals import ApprovalDesk, decider_of, show_decisions
from packs.core.workflow_api.controller import WorkflowApiController, audit, errors, identify, json_object, service_of
from packs.core.workflow_api.payloads import (
    IDEMPOTENCY_HEADER,
    LIST_OPERATION,
    RESUME_OPERATION,
    START_OPERATION,
    ExecutionAnswer,
    ExecutionList,
    ExecutionShow,
    FailedStart,
    WorkflowList,
    execution_answer,
    execution_detail,
    execution_id_of,
    execution_list,
    failed_start,
    idempotency_key,
    list_query,
    resume_request,
    start_request,
    workflow_out,
)
from packs.core.workflow_api.timers import pending_timers

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


MAX_EVENT_ID_DIGITS = 9


def events_after(raw: str | None) -> int:
    """The place of the last event a reconnecting client received (``Last-Event-ID``), ``-1`` for none; 422 when
    it is no id this stream sends (a whole number from 0)."""
    if raw is None or not raw.strip():
        return -1
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_EVENT_ID_DIGITS):
        raise ValidationError(
            "Last-Event-ID is not an event id of this stream",
            {"Last-Event-ID": f"must be the id of an event this stream sent (a whole number), got {text[:40]!r}"},
        )
    return int(text)


def answer(body: ExecutionAnswer, status_code: int, *, location: bool = False) -> Response[ExecutionAnswer]:
    """An execution answer, with a ``Location`` header when asked."""
    headers = {"Location": body.meta.url} if location else None
    return Response(content=body, status_code=status_code, headers=headers)


class WorkflowsController(WorkflowApiController):
    """``/api/v1/workflows``: the loaded workflows and their executions in the caller's workspace."""

    @get("/", summary="List the workflows", responses=errors(), operation_id="workflows_list")
    async def list_workflows(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> WorkflowList:
        """The loaded workflows: id, name, version, description and inputs."""
        await identify(request, db_session)
        definitions = service_of(request).definitions
        return WorkflowList(data=[workflow_out(definitions[key]) for key in sorted(definitions)])

    @post(
        "/{workflow_id:str}/executions",
        status_code=202,
        summary="Start an execution",
        operation_class=START_OPERATION,
        operation_id="workflows_executions_start",
        response_headers=[ResponseHeader(name="Location", description="The execution's URL", documentation_only=True)],
        responses={
            200: ResponseSpec(
                data_container=ExecutionAnswer,
                description="sync mode: the execution settled (completed, halted, failed or cancelled)",
                generate_examples=False,
            ),
            **errors(404, 409, 413, 422),
            500: ResponseSpec(
                data_container=FailedStart,
                description="sync mode: the execution failed (422, with the same body, when a tool's client "
                "error or a step refusing a value failed it)",
                generate_examples=False,
            ),
        },
    )
    async def start(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        workflow_id: str,
        idempotency: Annotated[
            str | None,
            Parameter(
                header=IDEMPOTENCY_HEADER,
                schema_extra={"format": "uuid"},
                required=False,
                description=(
                    "A UUID, this workspace's own: repeating it with the same workflow and input answers the "
                    "same execution; with another workflow or input, 409."
                ),
            ),
        ] = None,
    ) -> Response[ExecutionAnswer]:
        """Start an execution.

        `{"input": {...}, "mode": "async"}` answers 202 at once with the execution and its URL (also in
        `Location`); `"mode": "sync"` waits for it to settle and answers 200 (202 if it is still running
        after the wait). A sync start that ends `failed` answers 422 when a tool's validation error (`details`
        names the fields) or another 4xx tool error failed it, or a step refused a value (a wait's `seconds`,
        a loop's `over`, ...), and 500 otherwise, with the execution in `data`. `user_id` /
        `workspace_id` inputs come from the token. `Idempotency-Key` is the workspace's own: repeated with
        the same workflow and input it answers the first execution; with another, 409.
        """
        identity = await identify(request, db_session)
        service = service_of(request)
        service.definition(workflow_id)  # an unknown workflow answers 404 before the body is read
        body = await json_object(request)
        repeat_key = idempotency_key(idempotency)
        given, mode = start_request(body)
        started = await service.start_as(
            workflow_id,
            given,
            workspace_id=str(identity.workspace_id),
            user_id=str(identity.user_id),
            mode=mode,
            idempotency_key=repeat_key,
        )
        execution = started.execution
        if not started.repeated:  # a repeat of a start is not another start
            await audit(db_session, identity, "start", execution.id, {"workflow_id": workflow_id})
        if mode == "sync" and execution.status == Status.FAILED:
            status_code, failed = failed_start(execution)
            return cast("Response[ExecutionAnswer]", Response(content=failed, status_code=status_code))
        settled = mode == "sync" and execution.status in SETTLED
        return answer(execution_answer(execution), 200 if settled else 202, location=not settled)

    @get(
        "/executions",
        summary="List executions",
        operation_class=LIST_OPERATION,
        responses=errors(422),
        operation_id="workflows_executions_list",
    )
    async def list_executions(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> ExecutionList:
        """The workspace's executions, newest first; filter by `workflow_id`, `status`, `schedule_id` (the runs
        of a schedule) and `waiting_for` (what a halted one waits for), page with `page` and
        `per_page`, or by keyset with `cursor`."""
        identity = await identify(request, db_session)
        query = list_query({key: values[-1] for key, values in request.query_params.dict().items() if values})
        found = await service_of(request).list(
            str(identity.workspace_id),
            workflow_id=query.workflow_id,
            schedule_id=query.schedule_id,
            waiting_for=query.waiting_for,
            status=query.status,
            page=query.page,
            per_page=query.per_page,
            after=query.after,
            keyset=query.keyset,
        )
        return execution_list(query, found)

    @get(
        "/executions/{execution_id:str}",
        summary="Show an execution",
        responses=errors(404),
        operation_id="workflows_executions_show",
    )
    async def show_execution(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, execution_id: str
    ) -> ExecutionShow:
        """One execution with its entries (oldest first)."""
        identity = await identify(request, db_session)
        service = service_of(request)
        key = execution_id_of(execution_id)
        execution = await show_decisions(service, await service.get(key, str(identity.workspace_id)))
        entries = await service.entries(key, str(identity.workspace_id))
        signals = await received_signals(service.store, key)
        timers = await pending_timers(service.store, key)
        return ExecutionShow(data=execution_detail(execution, entries, signals, timers))

    @post(
        "/executions/{execution_id:str}/resume",
        status_code=202,
        summary="Resume a halted execution",
        operation_class=RESUME_OPERATION,
        operation_id="workflows_executions_resume",
        responses=errors(404, 409, 413, 422),
    )
    async def resume_execution(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, execution_id: str
    ) -> Response[ExecutionAnswer]:
        """Queue a halted execution to continue: `{"approved": true|false}` for an approval (the caller's decision,
        with the rules of `POST .../decisions`: 403 when the caller may not decide), `{"response": ...}` otherwise.
        409 unless it is halted."""
        identity = await identify(request, db_session)
        service = service_of(request)
        key = execution_id_of(execution_id)
        workspace_id = str(identity.workspace_id)
        await service.get(key, workspace_id)  # another workspace's execution answers 404 before the body is read
        response, approved = resume_request(await json_object(request))
        resumed = await ApprovalDesk(service).resume(
            key,
            workspace_id,
            lambda: decider_of(db_session, str(identity.user_id), workspace_id),
            response=response,
            approved=approved,
        )
        await audit(db_session, identity, "resume" if approved is None else "approve" if approved else "reject", key)
        return answer(execution_answer(resumed), 202, location=True)

    @post(
        "/executions/{execution_id:str}/cancel",
        status_code=200,
        summary="Cancel an execution",
        operation_id="workflows_executions_cancel",
        responses=errors(404, 409),
    )
    async def cancel_execution(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, execution_id: str
    ) -> Response[ExecutionAnswer]:
        """Cancel a pending, running or halted execution (a running one stops at its next step). 409 once it ended."""
        identity = await identify(request, db_session)
        cancelled = await service_of(request).cancel(execution_id_of(execution_id), str(identity.workspace_id))
        await audit(db_session, identity, "cancel", cancelled.id)
        return answer(execution_answer(cancelled), 200)

    @post(
        "/executions/{execution_id:str}/retry",
        status_code=202,
        summary="Retry a failed execution",
        operation_id="workflows_executions_retry",
        responses=errors(404, 409),
    )
    async def retry_execution(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, execution_id: str
    ) -> Response[ExecutionAnswer]:
        """Queue a failed execution again from its failed step, keeping what earlier steps recorded. 409 unless
        it failed."""
        identity = await identify(request, db_session)
        retried = await service_of(request).retry(execution_id_of(execution_id), str(identity.workspace_id))
        await audit(db_session, identity, "retry", retried.id)
        return answer(execution_answer(retried), 202, location=True)

    @get(
        "/executions/{execution_id:str}/events",
        media_type="text/event-stream",
        summary="Watch an execution's events",
        operation_id="workflows_executions_events",
        responses=errors(404),
        response_description="Server-sent events (`event: <type>`, `data: <json>`), ending when the execution ends",
    )
    async def execution_events(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        execution_id: str,
        last_event_id: Annotated[
            str | None,
            Parameter(
                header="Last-Event-ID",
                required=False,
                description="The `id` of the last event received: a reconnecting stream goes on after it.",
            ),
        ] = None,
    ) -> Stream:
        """The execution's events as server-sent events: what already happened first, then live ones; the
        stream stays open while the execution is halted and ends once it is completed, failed or cancelled.
        Each event has an `id` (its place in the stream, from 0); with `Last-Event-ID` the events up to that
        one are not sent again."""
        after = events_after(last_event_id)
        identity = await identify(request, db_session)
        service = service_of(request)
        key = execution_id_of(execution_id)
        events = await service.watch(key, str(identity.workspace_id))

        async def stream() -> AsyncIterator[str]:
            index = -1
            async for event in events:
                index += 1
                if index > after:
                    yield event.to_sse(index)

        return Stream(stream(), media_type="text/event-stream", headers=SSE_HEADERS)


__all__ = ["WorkflowsController"]
