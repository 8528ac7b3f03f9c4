"""The approvals endpoints: decide on an execution's approval, and the caller's inbox (docs/http-api.md, Approvals).

HTTP only: the rules are :class:`~packs.core.workflow_api.approvals.ApprovalDesk`'s. Errors are answered
as by the workflow endpoints: 404 for another workspace's execution, 409 when it waits for no approval
(or the caller decided this halt already), 403 saying why the caller may not decide, 422 for a bad body
or a response the form rejects (naming its JSON pointer; nothing is recorded).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.identity import Identity
from packs.core.items import encode_cursor
from packs.core.tools.errors import ValidationError
from packs.core.workflow import Decided
from packs.core.workflow_api.approvals import (
    MAX_COMMENT_LENGTH,
    ApprovalDesk,
    Decider,
    decider_of,
    decision_request,
)
from packs.core.workflow_api.controller import WorkflowApiController, audit, errors, identify, json_object, service_of
from packs.core.workflow_api.payloads import (
    PageMeta,
    documented,
    execution_id_of,
    execution_url,
    list_query,
    page_meta,
    page_parameters,
)


class DecisionAnswer(msgspec.Struct):
    """``POST .../decisions``: the decision, the approval's decisions so far, whether it settled, the execution."""

    data: dict[str, Any]


class Inbox(msgspec.Struct):
    """``GET /api/v1/workflows/approvals``: pending approvals, oldest first, a page of them (``meta`` as every
    list's: docs/http-api.md, Lists)."""

    data: list[dict[str, Any]]
    meta: PageMeta


PAGING = ("page", "per_page", "cursor")
"""The query parameters of the inbox's page (read as the executions list reads them)."""
INBOX_OPERATION = documented(query=page_parameters("Approvals"))


def desk_of(request: Request[Any, Any, Any]) -> ApprovalDesk:
    """The approval desk on the app's workflow service."""
    return ApprovalDesk(service_of(request))


async def caller(request: Request[Any, Any, Any], session: AsyncSession) -> tuple[Identity, Decider]:
    """The caller's identity, and their email and role in the workspace they act in."""
    identity = await identify(request, session)
    return identity, await decider_of(session, str(identity.user_id), str(identity.workspace_id))


def decision_answer(decided: Decided) -> DecisionAnswer:
    """The body of a ``201``."""
    execution = decided.execution
    return DecisionAnswer(
        data={
            "decision": decided.decision.as_output(),
            "decisions": [decision.as_output() for decision in decided.decisions],
            "settled": decided.verdict is not None,
            "approved": decided.verdict,
            "execution": {"id": execution.id, "status": str(execution.status), "url": execution_url(execution.id)},
        }
    )


DECISION_OPERATION = documented(
    body=(
        "The caller's decision on the approval the execution waits for.",
        {
            "approved": Schema(type=OpenAPIType.BOOLEAN, description="true approves, false rejects (required)."),
            "comment": Schema(
                type=OpenAPIType.STRING, max_length=MAX_COMMENT_LENGTH, description="Why; kept with the decision."
            ),
            "response": Schema(description="Any JSON value; an approving one must fit the approval's form."),
        },
    )
)


class ApprovalsController(WorkflowApiController):
    """``/api/v1/workflows``: decisions on executions' approvals and the approvals inbox."""

    @post(
        "/executions/{execution_id:str}/decisions",
        status_code=201,
        summary="Decide on an execution's approval",
        operation_id="workflows_executions_decide",
        responses=errors(404, 409, 413, 422),
        operation_class=DECISION_OPERATION,
    )
    async def decide(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, execution_id: str
    ) -> Response[DecisionAnswer]:
        """Record the caller's decision `{"approved": bool, "comment": str?, "response": any?}` on the approval the
        execution waits for. 201 with the decision and the execution's status (`pending` once the decision settled
        the approval: it goes on); 403 saying why the caller may not decide; 409 when it waits for no approval,
        timed out, or the caller decided already; 422 for a bad body or a response the `form` rejects."""
        identity, decider = await caller(request, db_session)
        key = execution_id_of(execution_id)
        desk = desk_of(request)
        await desk.service.get(key, str(identity.workspace_id))  # another workspace's: 404 before the body is read
        approved, comment, response = decision_request(await json_object(request))
        decided = await desk.decide(
            key, str(identity.workspace_id), decider, approved=approved, comment=comment, response=response
        )
        details = {"comment": comment, "settled": decided.verdict is not None, "step_id": decided.decision.step_id}
        await audit(db_session, identity, "approve" if approved else "reject", key, details)
        return Response(content=decision_answer(decided), status_code=201)

    @get(
        "/approvals",
        summary="The approvals inbox",
        operation_id="workflows_approvals_inbox",
        operation_class=INBOX_OPERATION,
        responses=errors(422),
    )
    async def inbox(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        inbox_scope: str | None = Parameter(
            query="scope", required=False, description="`workspace`: every pending approval, with `can_decide`"
        ),
    ) -> Inbox:
        """The approvals the caller may decide now in their workspace, oldest first; `?scope=workspace` lists every
        pending approval of the workspace with `can_decide` per item. Pages as every list does: `page` and
        `per_page`, or by keyset with `cursor`."""
        identity, decider = await caller(request, db_session)
        paging = list_query({key: values[-1] for key, values in request.query_params.dict().items() if key in PAGING})
        if inbox_scope not in (None, "me", "workspace"):
            raise ValidationError(
                f"scope must be 'me' or 'workspace', got {inbox_scope!r}", {"scope": "must be 'me' or 'workspace'"}
            )
        found = await desk_of(request).inbox_page(
            str(identity.workspace_id),
            decider,
            per_page=paging.per_page,
            after=paging.after,
            page=None if paging.keyset else paging.page,
            everyone=inbox_scope == "workspace",
        )
        if found.total is not None:
            return Inbox(data=found.items, meta=page_meta(paging.page, paging.per_page, found.total))
        following = None if found.following is None else encode_cursor(*found.following)
        return Inbox(data=found.items, meta=PageMeta(per_page=paging.per_page, cursor=following))


__all__ = ["ApprovalsController", "desk_of"]
