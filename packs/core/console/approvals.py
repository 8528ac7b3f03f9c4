"""``/console/approvals``: the approvals the signed-in user may decide now, with ``Approve`` / ``Reject`` and the
approval's form (generated from its JSON Schema) and a comment; the same decision from an execution's page.
Decisions go through :class:`~packs.core.workflow_api.approvals.ApprovalDesk`, with the API's checks (who may
decide, quorum, the form)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.audit import record_action
from packs.core.console.forms import Field, parse, schema_fields, with_values
from packs.core.console.inbox import decider_for, inbox_items
from packs.core.console.schema_errors import schema_errors
from packs.core.console.sessions import ConsoleUser
from packs.core.console.web import PREFIX, page, service_of
from packs.core.tools.errors import ValidationError
from packs.core.workflow import ResumeInputError
from packs.core.workflow.queue.decisions import pending_approval
from packs.core.workflow_api.approvals import (
    COMMENT_TOO_LONG,
    MAX_COMMENT_LENGTH,
    ApprovalDesk,
    show_decisions,
    why_not,
)
from packs.core.workflow_api.payloads import execution_id_of

COMMENT = "comment"
DECISION = "decision"


def desk(request: Request[Any, Any, Any]) -> ApprovalDesk:
    """The approval desk on the app's workflow service (what the API's decisions use)."""
    return ApprovalDesk(service_of(request))


async def decision_of_page(
    request: Request[Any, Any, Any], user: ConsoleUser, execution_id: str
) -> dict[str, Any] | None:
    """The decision form of an execution's page: the approval it waits for, its fields, and why the user may not
    decide (``None`` when it waits for no approval)."""
    execution = await show_decisions(
        service_of(request), await service_of(request).get(execution_id, str(user.workspace_id))
    )
    approval = pending_approval(execution)
    if approval is None:
        return None
    return {
        "execution_id": execution.id,
        "decisions": approval.get("decisions") or [],
        "due_at": approval.get("due_at"),
        "quorum": approval.get("quorum", 1),
        "prompt": approval.get("prompt"),
        "fields": schema_fields(approval.get("form")),
        "refused": why_not(approval, decider_for(user)),
        "next": f"{PREFIX}/executions/{execution.id}",
    }


class ApprovalsController(Controller):
    """The approvals inbox and the decisions posted from it or from an execution's page."""

    path = "/approvals"
    include_in_schema = False

    @get("/")
    async def index(self, request: Request[Any, Any, Any], user: ConsoleUser) -> Template:
        """The approvals the user may decide now, across workflows, a page at a time (``?cursor=``: the page's
        "Next" link)."""
        cursor = request.query_params.get("cursor") or None
        shown = await inbox_items(service_of(request), user, cursor)
        following = None if shown.next_cursor is None else urlencode({"cursor": shown.next_cursor})
        return await page(
            request,
            "approvals.html",
            user,
            title="Approvals",
            items=shown.items,
            next_query=following,
            first_page=cursor is not None,
        )

    @post("/{execution_id:str}", status_code=303)
    async def decide(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, user: ConsoleUser, execution_id: str
    ) -> Template | Redirect:
        """Approve or reject (the pressed button), with the form's response and a comment; a value that does not
        fit its field, or a response the approval's form refuses, shows the form again (422); a user who may not
        decide gets a 403 saying why."""
        key = execution_id_of(execution_id)
        service = service_of(request)
        execution = await service.get(key, str(user.workspace_id))
        form = dict((await request.form()).items())
        choice = form.get(DECISION)
        if choice not in {"approve", "reject"}:
            raise ValidationError("Press Approve or Reject.", {DECISION: "approve or reject"})
        approved = choice == "approve"
        approval = pending_approval(execution) or {}
        fields: list[Field] = schema_fields(approval.get("form"))
        submitted = parse(fields, form) if approved else None
        comment = str(form.get(COMMENT) or "").strip() or None
        back = str(form.get("next") or "")
        target = back if back.startswith(f"{PREFIX}/") else f"{PREFIX}/approvals"
        error = None
        field_errors: dict[str, str] = dict(submitted.errors) if submitted is not None else {}
        if submitted is not None and not field_errors and fields:
            field_errors = schema_errors(approval.get("form"), submitted.values)  # each violation by its field
        if field_errors:
            error = "Some values need fixing: see the fields marked below."
            if "" in field_errors:
                error = f"{error} {field_errors['']}"
        elif comment is not None and len(comment) > MAX_COMMENT_LENGTH:
            error = f"The comment {COMMENT_TOO_LONG} (it has {len(comment):,})."
        else:
            try:
                await desk(request).decide(
                    key,
                    str(user.workspace_id),
                    decider_for(user),
                    approved=approved,
                    comment=comment,
                    response=(submitted.values or None) if submitted is not None and fields else None,
                )
            except ValidationError as invalid:
                error = invalid.message
            except ResumeInputError as refused:  # the form changed since the page was shown, or the halt did
                error = str(refused)
            else:
                await record_action(
                    db_session,
                    workspace_id=user.workspace_id,
                    actor_id=user.user_id,
                    action="approve" if approved else "reject",
                    target_id=key,
                    source="console",
                    details={"workflow_id": execution.workflow_id, "comment": comment},
                )
                await db_session.commit()
                await db_session.close()
                return Redirect(target, status_code=303)
        decision = {
            "execution_id": key,
            "prompt": approval.get("prompt"),
            "fields": with_values(fields, form, field_errors),
            "refused": None,
            "next": target,
            "error": error,
            "comment": comment or "",
        }
        return await page(
            request, "decide.html", user, status_code=422, title="Decide", decision=decision, execution=execution
        )
