"""What the workflow endpoints answer and accept: payload structs, their rendering and the request checks.

The structs give the OpenAPI document its schemas; the controller builds them from the engine's
:class:`Execution`, :class:`Entry` and :class:`WorkflowDef`. An execution's ``ctx`` (the engine's
working state) and its lease fields (worker internals) are not shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from litestar.enums import ParamType
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Reference, RequestBody, Schema
from litestar.openapi.spec import Parameter as OpenAPIParameter

from packs.core.http import API_PREFIX
from packs.core.items import (
    DEFAULT_PER_PAGE,
    MAX_CURSOR_LENGTH,
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_PER_PAGE_ASKED,
    PageNumber,
    PerPage,
    decode_cursor,
    encode_cursor,
)
from packs.core.tools.errors import ValidationError
from packs.core.tools.parameters import convert_leniently, describe_conversion_error
from packs.core.workflow import (
    FAILURE,
    Entry,
    Execution,
    ExecutionNotFoundError,
    ExecutionResult,
    Keyset,
    Page,
    Status,
    WorkflowDef,
)
from packs.core.workflow.halts import WAITING_FOR

EXECUTIONS_PATH = f"{API_PREFIX}/workflows/executions"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MODES = ("sync", "async")
START_FIELDS = ("input", "mode")
RESUME_FIELDS = ("approved", "response")
STATUSES = tuple(status.value for status in Status)


class WorkflowOut(msgspec.Struct):
    """A loaded workflow; ``inputs`` maps each input's name to its JSON Schema plus required/default/description."""

    id: str
    name: str
    version: str
    description: str | None
    inputs: dict[str, dict[str, Any]]


class WorkflowList(msgspec.Struct):
    """``GET /api/v1/workflows``."""

    data: list[WorkflowOut]


class HaltOut(msgspec.Struct):
    """Why a halted execution waits: the halt's data, the step resuming continues at, its prompt."""

    data: dict[str, Any]
    resume_step: str | None
    prompt: str | None


class ExecutionOut(msgspec.Struct):
    """An execution: ``output`` once completed, ``halt`` while halted, ``error`` (and ``error_details``) once
    failed or cancelled."""

    id: str
    workflow_id: str
    status: str
    input: dict[str, Any]
    output: Any
    error: str | None
    error_details: dict[str, Any] | None
    """Once failed: the failing error's ``details`` (a tool's ``ValidationError`` names the fields), else null."""
    halt: HaltOut | None
    current_step: str | None
    definition_version: str | None
    workspace_id: str | None
    created_by_id: str | None
    attempts: int
    schedule_id: str | None
    """The schedule that started the execution (docs/http-api.md, Schedules), else null."""
    created_at: str
    updated_at: str


class EntryOut(msgspec.Struct):
    """One step event of an execution: ``started``, ``completed``, ``failed`` or ``halted``."""

    id: str
    step_id: str
    step_type: str
    action: str
    input: Any
    output: Any
    error: str | None
    duration_ms: int | None
    timestamp: str
    attempt: int | None = None
    """Which attempt of a step with retriers the entry records (docs/workflow-language.md, Retry and catch)."""


class ExecutionDetail(ExecutionOut, kw_only=True):
    """An execution with its entries, oldest first, and the signals it received, in arrival order."""

    entries: list[EntryOut]
    signals: list[dict[str, Any]] = msgspec.field(default_factory=list)
    timers: list[dict[str, Any]] = msgspec.field(default_factory=list)
    """Its durable timers that have not fired yet, earliest first: ``{id, kind, due_at, payload}``."""


class UrlMeta(msgspec.Struct):
    """Where the execution can be looked at."""

    url: str


class ExecutionAnswer(msgspec.Struct):
    """An execution started, resumed, cancelled or retried: ``{"data": execution, "meta": {"url": ...}}``."""

    data: ExecutionOut
    meta: UrlMeta


class FailedStart(msgspec.Struct):
    """A sync start whose execution failed: the error body (``details`` from a tool's validation error) with the
    execution and its URL."""

    error: str
    details: dict[str, Any]
    data: ExecutionOut
    meta: UrlMeta


class ExecutionShow(msgspec.Struct):
    """``GET /api/v1/workflows/executions/{id}``."""

    data: ExecutionDetail


class PageMeta(msgspec.Struct):
    """By page: the page shown and how many executions match in all (``page``, ``per_page``, ``total``); by
    cursor: ``per_page`` and the next page's ``cursor`` (``null`` on the last page), no total."""

    per_page: int
    page: int | msgspec.UnsetType = msgspec.UNSET
    total: int | msgspec.UnsetType = msgspec.UNSET
    cursor: str | msgspec.UnsetType | None = msgspec.UNSET


class ExecutionList(msgspec.Struct):
    """``GET /api/v1/workflows/executions``."""

    data: list[ExecutionOut]
    meta: PageMeta


def execution_url(execution_id: str) -> str:
    """The path of an execution."""
    return f"{EXECUTIONS_PATH}/{execution_id}"


def workflow_out(definition: WorkflowDef) -> WorkflowOut:
    """A loaded workflow as ``GET /api/v1/workflows`` lists it."""
    inputs = {
        name: {
            **declared.schema,
            "type": declared.type,
            "required": declared.required,
            "default": declared.default,
            "description": declared.description,
        }
        for name, declared in definition.inputs.items()
    }
    return WorkflowOut(
        id=definition.id,
        name=definition.name,
        version=definition.version,
        description=definition.description,
        inputs=inputs,
    )


def execution_out(execution: Execution) -> ExecutionOut:
    """An execution as the API shows it."""
    return ExecutionOut(**_execution_fields(execution))


def execution_detail(
    execution: Execution,
    entries: list[Entry],
    signals: list[dict[str, Any]] | None = None,
    timers: list[dict[str, Any]] | None = None,
) -> ExecutionDetail:
    """An execution with its entries (and its signals and pending timers, when given)."""
    return ExecutionDetail(
        **_execution_fields(execution),
        entries=[entry_out(entry) for entry in entries],
        signals=signals or [],
        timers=timers or [],
    )


def execution_answer(execution: Execution) -> ExecutionAnswer:
    """``{"data": execution, "meta": {"url": ...}}``."""
    return ExecutionAnswer(data=execution_out(execution), meta=UrlMeta(url=execution_url(execution.id)))


def entry_out(entry: Entry) -> EntryOut:
    """An entry as the API shows it."""
    return EntryOut(
        id=str(entry.id),
        step_id=entry.step_id,
        step_type=entry.step_type,
        action=str(entry.action),
        input=entry.input,
        output=entry.output,
        error=entry.error,
        duration_ms=entry.duration_ms,
        timestamp=entry.timestamp.isoformat(),
        attempt=entry.attempt,
    )


def _execution_fields(execution: Execution) -> dict[str, Any]:
    result = ExecutionResult.of(execution)
    halt = None
    if result.halt is not None:
        halt = HaltOut(data=result.halt.data, resume_step=result.halt.resume_step, prompt=result.halt.prompt)
    return {
        "id": str(execution.id),
        "workflow_id": execution.workflow_id,
        "status": str(execution.status),
        "input": execution.input,
        "output": result.output,
        "error": execution.error,
        "error_details": failure_of(execution).get("details"),
        "halt": halt,
        "current_step": execution.current_step,
        "definition_version": execution.definition_version,
        "workspace_id": _text(execution.workspace_id),
        "created_by_id": _text(execution.created_by_id),
        "schedule_id": _text(execution.schedule_id),
        "attempts": execution.attempts,
        "created_at": execution.created_at.isoformat(),
        "updated_at": execution.updated_at.isoformat(),
    }


def failure_of(execution: Execution) -> dict[str, Any]:
    """What failed a failed execution (the engine's record: step, class, message, details, status_code), or ``{}``."""
    if execution.status != Status.FAILED:
        return {}
    recorded = execution.ctx.get(FAILURE)
    return recorded if isinstance(recorded, dict) else {}


def failed_start(execution: Execution) -> tuple[int, FailedStart]:
    """The status and body of a sync start that ended ``failed``: 422 when what failed it stands for a client's
    error (a tool's ``ValidationError``, whose ``details`` name the fields, or another 4xx tool error; a step
    refusing a value, :class:`~packs.core.workflow.StepValueError`), 500 otherwise."""
    recorded = failure_of(execution)
    code = recorded.get("status_code")
    status_code = 422 if isinstance(code, int) and 400 <= code < 500 else 500
    answer = execution_answer(execution)
    body = FailedStart(
        error=execution.error or "the execution failed",
        details=recorded.get("details") or {},
        data=answer.data,
        meta=answer.meta,
    )
    return status_code, body


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def execution_id_of(raw: str) -> str:
    """The canonical form of an execution id from a path; :class:`ExecutionNotFoundError` unless a UUID."""
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ExecutionNotFoundError(f"no execution {raw} (execution ids are UUIDs)") from None


def idempotency_key(raw: str | None) -> str | None:
    """The execution id an ``Idempotency-Key`` header asks for (canonical UUID text); 422 unless a UUID."""
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw.strip()))
    except ValueError:
        raise ValidationError(
            f"the {IDEMPOTENCY_HEADER} header must be a UUID", {IDEMPOTENCY_HEADER: f"is not a UUID: {raw!r}"}
        ) from None


def unknown_fields(body: dict[str, Any], known: tuple[str, ...]) -> dict[str, str]:
    """A problem for each key of ``body`` that is not in ``known``."""
    return {key: f"is not a known parameter (expected {', '.join(known)})" for key in body if key not in known}


def start_request(body: dict[str, Any]) -> tuple[dict[str, Any], Literal["sync", "async"]]:
    """``input`` and ``mode`` of a start request; 422 naming each bad field."""
    details = unknown_fields(body, START_FIELDS)
    given = body.get("input")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        details["input"] = "must be a JSON object"
    mode = body.get("mode", "async")
    if mode not in MODES:
        details["mode"] = f"must be 'sync' or 'async', got {mode!r}"
    if details:
        raise ValidationError("Invalid parameters", details)
    return given, "sync" if mode == "sync" else "async"


def resume_request(body: dict[str, Any]) -> tuple[Any, bool | None]:
    """``response`` and ``approved`` of a resume request; 422 naming each bad field."""
    details = unknown_fields(body, RESUME_FIELDS)
    approved = body.get("approved")
    if approved is not None and not isinstance(approved, bool):
        details["approved"] = f"must be true or false, got {approved!r}"
    if details:
        raise ValidationError("Invalid parameters", details)
    return body.get("response"), approved


def query_number(raw: str) -> int | None:
    """A query parameter's whole number: ASCII digits only (not ``+1``, `` 1``, ``1_0`` or other scripts' digits),
    at most nine of them; ``None`` for anything else."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        return None
    return int(raw)


def page_meta(page: int, per_page: int, total: int) -> PageMeta:
    """The ``meta`` of a list answer."""
    return PageMeta(page=page, per_page=per_page, total=total)


def execution_list(query: ListQuery, found: Page) -> ExecutionList:
    """The answer of an executions listing; by cursor, the page the service found one execution longer
    than ``per_page`` when a next page exists."""
    if not query.keyset:
        assert found.total is not None
        return ExecutionList(
            data=[execution_out(execution) for execution in found.executions],
            meta=page_meta(query.page, query.per_page, found.total),
        )
    shown = found.executions[: query.per_page]
    following = None
    if len(found.executions) > query.per_page:
        following = encode_cursor(shown[-1].created_at, shown[-1].id)
    return ExecutionList(
        data=[execution_out(execution) for execution in shown],
        meta=PageMeta(per_page=query.per_page, cursor=following),
    )


@dataclass(frozen=True)
class ListQuery:
    """The query of ``GET /api/v1/workflows/executions``; ``keyset`` when asked by ``cursor``, from after
    ``after`` (``None``: from the newest)."""

    workflow_id: str | None
    status: str | None
    page: int
    per_page: int
    keyset: bool = False
    after: Keyset | None = None
    schedule_id: str | None = None
    waiting_for: str | None = None


def list_query(query: Mapping[str, str]) -> ListQuery:
    """Filters and page of an executions listing; 422 naming each bad parameter (``per_page`` over 100 is
    clamped to 100, as in every list)."""
    details: dict[str, str] = {}

    def number(name: str, kind: Any, default: int) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        try:
            converted: int = convert_leniently(raw, kind)
        except msgspec.ValidationError as error:
            details[name] = describe_conversion_error(error)
            return default
        return converted

    page = number("page", PageNumber, 1)
    per_page = number("per_page", PerPage, DEFAULT_PER_PAGE)
    status = query.get("status")
    if status is not None and status not in STATUSES:
        details["status"] = f"must be one of {', '.join(STATUSES)}, got {status!r}"
    cursor = query.get("cursor")
    after: Keyset | None = None
    if cursor is not None:
        if "page" in query and "page" not in details and page != 1:
            details["page"] = "cannot be given with cursor: a cursor names the page itself"
        try:
            decoded = decode_cursor(cursor)
        except ValidationError as error:
            details.update(error.details)
        else:
            after = None if decoded is None else (decoded[0], str(decoded[1]))
    schedule_id = query.get("schedule_id")
    if schedule_id is not None:
        try:
            schedule_id = str(uuid.UUID(schedule_id))
        except ValueError:
            details["schedule_id"] = f"must be a schedule id (a UUID), got {schedule_id!r}"
    waiting_for = query.get("waiting_for")
    if waiting_for is not None and waiting_for not in WAITING_FOR:
        details["waiting_for"] = f"must be one of {', '.join(WAITING_FOR)}, got {waiting_for!r}"
    if details:
        raise ValidationError("Invalid parameters", details)
    return ListQuery(
        query.get("workflow_id"),
        status,
        page,
        min(per_page, MAX_PER_PAGE),
        cursor is not None,
        after,
        schedule_id,
        waiting_for,
    )


def documented(
    *,
    body: tuple[str, dict[str, Schema | Reference]] | None = None,
    query: list[OpenAPIParameter] | None = None,
) -> type[Operation]:
    """An :class:`Operation` class adding a JSON object request body and query parameters to what Litestar
    documents: the handlers read the body and the query themselves, after authenticating, so that every
    problem is answered in the API's own error shapes."""
    request_body = None
    if body is not None:
        description, properties = body
        request_body = RequestBody(
            content={
                "application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT, properties=properties))
            },
            description=description,
            required=False,
        )
    extra = list(query or [])

    @dataclass
    class Documented(Operation):
        def __post_init__(self) -> None:
            if request_body is not None:
                self.request_body = request_body
            if extra:
                self.parameters = [*(self.parameters or []), *extra]

    return Documented


def query_parameter(name: str, schema: Schema, description: str) -> OpenAPIParameter:
    """An optional query parameter of an operation :func:`documented` adds."""
    return OpenAPIParameter(name=name, param_in=ParamType.QUERY, schema=schema, description=description)


START_OPERATION = documented(
    body=(
        "What to run with and how to answer.",
        {
            "input": Schema(
                type=OpenAPIType.OBJECT,
                description="The workflow's inputs (user_id and workspace_id come from the token).",
            ),
            "mode": Schema(
                type=OpenAPIType.STRING,
                enum=list(MODES),
                default="async",
                description="async: answer 202 at once; sync: wait for the execution to settle.",
            ),
        },
    )
)
RESUME_OPERATION = documented(
    body=(
        "The decision or response a halted execution waits for.",
        {
            "approved": Schema(type=OpenAPIType.BOOLEAN, description="For an approval: true or false."),
            "response": Schema(description="Any JSON value; the workflow reads it as $response."),
        },
    )
)


def page_parameters(rows: str) -> list[OpenAPIParameter]:
    """The ``page``, ``per_page`` and ``cursor`` query parameters of a list of ``rows`` (docs/http-api.md, Lists)."""
    return [
        query_parameter(
            "page",
            Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_PAGE, default=1),
            f"The page, from 1 to {MAX_PAGE:,}.",
        ),
        query_parameter(
            "per_page",
            Schema(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_PER_PAGE_ASKED, default=DEFAULT_PER_PAGE),
            f"{rows} per page (default {DEFAULT_PER_PAGE}; above {MAX_PER_PAGE} is clamped to {MAX_PER_PAGE}).",
        ),
        query_parameter(
            "cursor",
            Schema(type=OpenAPIType.STRING, max_length=MAX_CURSOR_LENGTH),
            "Page by keyset instead of page: empty for the first page, then the meta.cursor of the page "
            "before; the answer's meta is {per_page, cursor} (cursor null on the last page), without total.",
        ),
    ]


LIST_OPERATION = documented(
    query=[
        query_parameter("workflow_id", Schema(type=OpenAPIType.STRING), "Only executions of this workflow."),
        query_parameter(
            "status", Schema(type=OpenAPIType.STRING, enum=list(STATUSES)), "Only executions in this status."
        ),
        query_parameter("schedule_id", Schema(type=OpenAPIType.STRING), "Only runs of this schedule (its id, a UUID)."),
        query_parameter(
            "waiting_for",
            Schema(type=OpenAPIType.STRING, enum=list(WAITING_FOR)),
            "Only halted executions waiting for this: an approval, a wait's timer, a signal or a halt's input.",
        ),
        *page_parameters("Executions"),
    ]
)

__all__ = [
    "EXECUTIONS_PATH",
    "IDEMPOTENCY_HEADER",
    "LIST_OPERATION",
    "RESUME_OPERATION",
    "START_OPERATION",
    "ExecutionAnswer",
    "ExecutionDetail",
    "ExecutionList",
    "ExecutionOut",
    "ExecutionShow",
    "FailedStart",
    "WorkflowList",
    "WorkflowOut",
    "documented",
    "page_parameters",
    "query_parameter",
]
