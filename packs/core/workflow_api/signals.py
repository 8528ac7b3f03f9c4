"""The signals endpoint: send a signal to an execution (docs/http-api.md, Signals).

``POST /api/v1/workflows/executions/{id}/signals/{name}`` with ``{"payload": any}`` answers ``202``
with the signal kept, whether it repeats an earlier send (an ``Idempotency-Key`` already used for
this execution: nothing new is kept) and whether it woke the execution (halted at a ``receive``
of that name: it is queued to go on). ``404`` for another workspace's execution, ``409`` once the
execution has ended, ``422`` for a bad body, name or key; nothing is kept then. The rules are
:func:`packs.core.workflow.signals.send_signal`'s.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.openapi.spec import Schema
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.http.params import NUL, NUL_PROBLEM
from packs.core.tools.errors import ValidationError
from packs.core.workflow.names import signal_name_problem
from packs.core.workflow.signals import send_signal
from packs.core.workflow_api.controller import WorkflowApiController, audit, errors, identify, json_object, service_of
from packs.core.workflow_api.payloads import (
    IDEMPOTENCY_HEADER,
    documented,
    execution_id_of,
    execution_url,
    unknown_fields,
)

SIGNAL_FIELDS = ("payload",)
MAX_KEY_LENGTH = 255


class SignalAnswer(msgspec.Struct):
    """``202``: ``{"data": {"signal", "repeated", "woke", "execution": {id, status, url}}}``."""

    data: dict[str, Any]


def header_text(value: str) -> str | None:
    """A header's text: ASGI gives its bytes as Latin-1 characters, and a client sends UTF-8; ``None`` when they
    are not UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def signal_request(name: str, body: dict[str, Any], key: str | None) -> tuple[str, Any, str | None]:
    """The signal's name, payload and idempotency key; 422 naming each bad one."""
    details = unknown_fields(body, SIGNAL_FIELDS)
    if NUL in name and name.strip():
        details["name"] = NUL_PROBLEM
    elif (problem := signal_name_problem(name)) is not None:
        details["name"] = problem
    if key is not None and (key := header_text(key)) is None:
        details[IDEMPOTENCY_HEADER] = "must be UTF-8 text"
    elif key is not None and (not key.strip() or len(key) > MAX_KEY_LENGTH):
        details[IDEMPOTENCY_HEADER] = f"must be 1 to {MAX_KEY_LENGTH} characters, got {len(key)}"
    if details:
        raise ValidationError("invalid signal: " + "; ".join(f"{k} {v}" for k, v in details.items()), details)
    return name, body.get("payload"), None if key is None else key.strip()


SIGNAL_OPERATION = documented(
    body=("The signal's payload.", {"payload": Schema(description="Any JSON value; the receive step reads it.")})
)


class SignalsController(WorkflowApiController):
    """``/api/v1/workflows/executions/{id}/signals/{name}``."""

    @post(
        "/executions/{execution_id:str}/signals/{name:str}",
        status_code=202,
        summary="Send a signal to an execution",
        operation_id="workflows_executions_signal",
        responses=errors(404, 409, 413, 422),
        operation_class=SIGNAL_OPERATION,
    )
    async def send(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        execution_id: str,
        name: str,
        idempotency_key: str | None = Parameter(
            header=IDEMPOTENCY_HEADER,
            required=False,
            description="Makes a repeated send a no-op: the same key for the same execution keeps one signal.",
        ),
    ) -> Response[SignalAnswer]:
        """Keep a signal `name` with `{"payload": any}` for the execution; a `receive` step waiting for it goes on.
        409 once the execution has ended."""
        identity = await identify(request, db_session)
        service = service_of(request)
        key = execution_id_of(execution_id)
        await service.get(key, str(identity.workspace_id))  # another workspace's execution: 404 before the body
        signal_name, payload, idempotency = signal_request(name, await json_object(request), idempotency_key)
        sent = await send_signal(service.store, key, signal_name, payload, idempotency)
        if sent.woke:
            await service.adapter.enqueue(sent.execution_id)
        execution = await service.get(key, str(identity.workspace_id))
        if not sent.repeated:
            await audit(db_session, identity, "signal", key, {"signal": signal_name, "woke": sent.woke})
        body = {
            "signal": sent.signal.as_dict(),
            "repeated": sent.repeated,
            "woke": sent.woke,
            "execution": {"id": execution.id, "status": str(execution.status), "url": execution_url(key)},
        }
        return Response(SignalAnswer(data=body), status_code=202, headers={"Location": execution_url(key)})
