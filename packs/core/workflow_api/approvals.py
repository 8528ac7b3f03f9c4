"""Who may decide on an approval, decisions by callers, and the approvals inbox (docs/http-api.md, Approvals).

The engine records decisions and applies the quorum (:func:`packs.core.workflow.decide`); this module
adds what needs identity: the caller's email and role in the execution's workspace checked against the
rule the approval step resolved when it halted (``halt_data.rule``). Only members of the execution's
workspace ever decide (another workspace's execution is not found); unless ``allow_requester``, the
user who started the execution may not; without ``approvers`` any member may.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.models.identity import Membership, User
from packs.core.tools.errors import ForbiddenError, ValidationError
from packs.core.workflow import Decided, Decision, Execution, ExecutionFilter, decide
from packs.core.workflow.decisions import ROLE_PREFIX, USER_PREFIX, approval_rule, resolved_approver_problem
from packs.core.workflow.queue.decisions import check_decidable, decisions_of, halt_of, pending_approval
from packs.core.workflow.resume_input import timed_out
from packs.core.workflow.stores.protocol import Keyset, MayDecide
from packs.core.workflow_api.service import WorkflowService

INBOX_PAGE = 200
"""Halted executions read per query while the inbox looks for pending approvals."""

DECISION_KEYS = frozenset({"approved", "comment", "response"})
APPROVAL_HALTS = ("approval", "workflow")
"""The halt types (``halt_data.type``) an approval may be pending under: its own, or a sub-workflow's holding it."""


@dataclass(frozen=True)
class InboxPage:
    """A page of the approvals inbox: its items, where the next page starts (``None``: the last page) when asked by
    keyset, and how many approvals the inbox holds in all when asked by page number."""

    items: list[dict[str, Any]]
    following: Keyset | None
    total: int | None


@dataclass(frozen=True)
class Decider:
    """A caller who may decide: the user, their email and their role in the workspace acted in."""

    user_id: str
    email: str
    role: str | None


async def decider_of(session: AsyncSession, user_id: str, workspace_id: str) -> Decider:
    """The caller's email and membership role in ``workspace_id`` (``None``: not a member); the session is released
    at once (no read transaction stays open across the decision's writes)."""
    statement = (
        select(User.email, Membership.role)
        .select_from(User)
        .outerjoin(Membership, (Membership.user_id == User.id) & (Membership.workspace_id == _uuid(workspace_id)))
        .where(User.id == _uuid(user_id))
    )
    try:
        row = (await session.execute(statement)).first()
    finally:
        await session.close()
    if row is None:
        return Decider(user_id, "", None)
    return Decider(user_id, row.email, row.role)


def why_not(approval: dict[str, Any], decider: Decider) -> str | None:
    """Why ``decider`` may not decide on ``approval`` (``None``: they may)."""
    rule = approval.get("rule")
    if not isinstance(rule, dict):
        # A halt recorded before approvals had rules: its approvers as written, the requester allowed as then.
        written = [a for a in approval.get("approvers") or [] if resolved_approver_problem(a) is None]
        rule = approval_rule(written or None, allow_requester=True, requester_id=None)
    if decider.role is None:
        return "you are not a member of this execution's workspace"
    if not rule.get("allow_requester") and rule.get("requester_id") == decider.user_id:
        return "you started this execution, and this approval does not allow the requester to decide"
    if rule.get("any_member"):
        return None
    if decider.user_id in (rule.get("users") or []):
        return None
    if decider.email.lower() in (rule.get("emails") or []):
        return None
    if decider.role in (rule.get("roles") or []):
        return None
    return f"you are not an approver of this step (approvers: {', '.join(approvers_of(rule))})"


def approvers_of(rule: dict[str, Any]) -> list[str]:
    """Who ``rule`` lets decide, as approvers are written (``role:``, ``user:`` and emails), resolved: what a
    ``$input.manager_email`` approver named when the step halted, not the reference."""
    return [
        *(f"{ROLE_PREFIX}{role}" for role in rule.get("roles") or []),
        *(str(email) for email in rule.get("emails") or []),
        *(f"{USER_PREFIX}{user}" for user in rule.get("users") or []),
    ]


MAX_COMMENT_LENGTH = 10_000
"""The longest comment a decision keeps (API and console alike)."""
COMMENT_TOO_LONG = f"must be at most {MAX_COMMENT_LENGTH} characters"


def decision_request(body: dict[str, Any]) -> tuple[bool, str | None, Any]:
    """``approved``, ``comment`` and ``response`` of a decision body; :class:`ValidationError` naming each problem."""
    details: dict[str, str] = {}
    for key in sorted(set(body) - DECISION_KEYS):
        details[key] = "unknown key (a decision takes approved, comment and response)"
    approved = body.get("approved")
    if not isinstance(approved, bool):
        details["approved"] = f"is required: true approves, false rejects (got {approved!r})"
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        details["comment"] = f"must be a string, got {type(comment).__name__}"
    elif isinstance(comment, str) and len(comment) > MAX_COMMENT_LENGTH:
        details["comment"] = COMMENT_TOO_LONG
    if details:
        raise ValidationError("invalid decision: " + "; ".join(f"{k} {v}" for k, v in details.items()), details)
    return bool(approved), comment, body.get("response")


@dataclass
class ApprovalDesk:
    """Decisions by callers and the inbox, on the workflow service's store and queue."""

    service: WorkflowService

    async def decide(
        self,
        execution_id: str,
        workspace_id: str,
        decider: Decider,
        *,
        approved: bool,
        comment: str | None = None,
        response: Any = None,
    ) -> Decided:
        """Record the caller's decision: 404 for another workspace's execution (:class:`ExecutionNotFoundError`),
        409 when it waits for no approval or the caller decided already, 403 (:class:`ForbiddenError`, saying why)
        when the caller may not decide, 422 for a response the form rejects. Queues the resume it settles."""
        execution = await self.service.loaded(execution_id, workspace_id)
        approval = check_decidable(execution)
        if (reason := why_not(approval, decider)) is not None:
            raise ForbiddenError(f"you may not decide on this approval: {reason}")
        decided = await decide(
            self.service.store,
            execution.id,
            approved=approved,
            user_id=decider.user_id,
            email=decider.email or None,
            comment=comment,
            response=response,
            expected_halt=halt_of(execution, approval),
        )
        if decided.verdict is not None:
            await self.service.adapter.enqueue(execution.id)
        return decided

    async def resume(
        self,
        execution_id: str,
        workspace_id: str,
        decider: Callable[[], Awaitable[Decider]],
        *,
        response: Any = None,
        approved: Any = None,
    ) -> Execution:
        """``POST .../resume``: with ``approved`` (true or false) on an execution halted at an approval, the caller's
        decision with every check of :meth:`decide` (``response`` is its response); anything else, the service's
        resume (which answers a halt that is not an approval, and 422 for an approval without a decision)."""
        execution = await self.service.loaded(execution_id, workspace_id)
        if isinstance(approved, bool) and pending_approval(execution) is not None:
            decided = await self.decide(
                execution_id, workspace_id, await decider(), approved=approved, response=response
            )
            return decided.execution
        return await self.service.resume(execution_id, workspace_id, response=response, approved=approved)

    async def inbox(self, workspace_id: str, decider: Decider, *, everyone: bool = False) -> list[dict[str, Any]]:
        """Every approval of :meth:`inbox_page`'s inbox, unpaged, oldest first."""
        return [item async for _, item in self._inbox_items(workspace_id, decider, everyone, None, INBOX_PAGE)]

    async def inbox_page(
        self,
        workspace_id: str,
        decider: Decider,
        *,
        per_page: int,
        after: Keyset | None = None,
        page: int | None = None,
        everyone: bool = False,
    ) -> InboxPage:
        """One page of the approvals ``decider`` may decide now in ``workspace_id``, oldest first (by the
        execution's ``created_at``, then ``id``); with ``everyone``, every pending approval of the workspace,
        each with ``can_decide`` (and ``cannot_decide_because``). docs/http-api.md, Approvals and Lists.

        By keyset (``page`` ``None``): the ``per_page`` approvals after the execution ``after``, and where the next
        page starts when more exist; candidates are read until the page is full or they end, so what Python drops
        (a timed-out approval, one under a sub-workflow it may not decide) never shortens a page. By ``page``:
        that page of the whole inbox, with ``total`` (every candidate is read).

        Without ``everyone`` the database leaves out what the approvals' rules refuse the decider (the store's
        :class:`~packs.core.workflow.stores.protocol.MayDecide`); :func:`why_not` checks again what it keeps."""
        if page is not None:
            every = [item async for _, item in self._inbox_items(workspace_id, decider, everyone, None, INBOX_PAGE)]
            return InboxPage(every[(page - 1) * per_page : page * per_page], None, len(every))
        found: list[tuple[Execution, dict[str, Any]]] = []
        chunk = min(INBOX_PAGE, per_page + 1)
        async with aclosing(self._inbox_items(workspace_id, decider, everyone, after, chunk)) as pairs:
            async for pair in pairs:
                found.append(pair)
                if len(found) > per_page:
                    break
        following = None
        if len(found) > per_page:
            last = found[per_page - 1][0]
            following = (last.created_at, last.id)
        return InboxPage([item for _, item in found[:per_page]], following, None)

    async def _inbox_items(
        self, workspace_id: str, decider: Decider, everyone: bool, after: Keyset | None, chunk: int
    ) -> AsyncGenerator[tuple[Execution, dict[str, Any]]]:
        """The inbox's approvals oldest first, each with its execution, read ``chunk`` candidates at a time (and
        the decisions of a chunk's halts in a few queries)."""
        if decider.role is None and not everyone:
            return  # not a member of the workspace: decides nothing in it
        asking = None if everyone else MayDecide(decider.user_id, decider.email, decider.role or "")
        async for executions in self._candidate_pages(workspace_id, asking, chunk, after):
            pending = []
            for execution in executions:
                approval = pending_approval(execution)
                if approval is not None and not timed_out(approval):
                    pending.append((execution, approval, halt_of(execution, approval)))
            decided = await self._decisions_of_halts([halt for _, _, halt in pending])
            for execution, approval, halt in pending:
                decisions = decided.get(halt, [])
                reason = why_not(approval, decider) or self._not_loaded(execution)
                if reason is None and any(decision.user_id == decider.user_id for decision in decisions):
                    reason = "you already decided on this approval"
                if reason is None or everyone:
                    yield execution, self._item(execution, approval, decisions, reason)

    async def pending_count(self, workspace_id: str, decider: Decider, *, cap: int) -> int:
        """How many approvals ``decider`` may decide now (what :meth:`inbox` lists), counted up to ``cap``: the
        count every console page shows reads at most the candidates it needs, and no decisions where the store
        left out those the decider made (the SQL store's ``decided_in_page``)."""
        if decider.role is None:
            return 0
        asking = MayDecide(decider.user_id, decider.email, decider.role)
        filtered = bool(getattr(self.service.store, "decided_in_page", False))
        count = 0
        async for execution in self._candidates(workspace_id, asking, min(INBOX_PAGE, cap + 1)):
            approval = pending_approval(execution)
            if approval is None or timed_out(approval) or why_not(approval, decider) or self._not_loaded(execution):
                continue
            if not (filtered and approval is execution.halt_data and isinstance(approval.get("halt_id"), str)):
                decisions = await decisions_of(self.service.store, halt_of(execution, approval))
                if any(decision.user_id == decider.user_id for decision in decisions):
                    continue
            count += 1
            if count >= cap:
                break
        return count

    def _not_loaded(self, execution: Execution) -> str | None:
        """Why nobody may decide ``execution`` in this app: no enabled pack provides its workflow (deciding would
        answer 409, see :meth:`WorkflowService.loaded`); ``None`` when its workflow is loaded."""
        if execution.workflow_id in self.service.definitions:
            return None
        return f"no enabled pack provides its workflow {execution.workflow_id!r} (is its pack disabled?)"

    async def _decisions_of_halts(self, halts: list[str]) -> dict[str, list[Decision]]:
        """The decisions on each halt: in a few queries where the store reads many halts at once."""
        read_many = getattr(self.service.store, "decisions_of_halts", None)
        if read_many is not None:
            found: dict[str, list[Decision]] = await read_many(halts)
            return found
        return {halt: await decisions_of(self.service.store, halt) for halt in halts}

    async def _candidates(
        self, workspace_id: str, asking: MayDecide | None, per_page: int = INBOX_PAGE
    ) -> AsyncIterator[Execution]:
        """Every execution of :meth:`_candidate_pages`."""
        async for executions in self._candidate_pages(workspace_id, asking, per_page, None):
            for execution in executions:
                yield execution

    async def _candidate_pages(
        self, workspace_id: str, asking: MayDecide | None, per_page: int, after: Keyset | None
    ) -> AsyncIterator[list[Execution]]:
        """The workspace's executions halted at an approval or at a sub-workflow (which may wait for one), oldest
        first from after ``after``, and with ``asking`` only those whose approval that user may decide as far as
        the database can tell: one query by ``halt_data.type`` (and the rules), without their contexts, a page at
        a time until one is short (what Python drops afterwards never shortens what the database was asked for)."""
        where = ExecutionFilter(workspace_id=workspace_id, waiting_for=APPROVAL_HALTS, may_decide=asking)
        while True:
            page = await self.service.store.page(
                where, limit=per_page, after=after, count=False, ctx_keys=(), oldest_first=True
            )
            yield page.executions
            if len(page.executions) < per_page:
                return
            last = page.executions[-1]
            after = (last.created_at, last.id)

    def _item(
        self, execution: Execution, approval: dict[str, Any], decisions: list[Decision], reason: str | None
    ) -> dict[str, Any]:
        definition = self.service.definitions.get(execution.workflow_id)
        return {
            "execution_id": execution.id,
            "workflow_id": execution.workflow_id,
            "workflow_name": definition.name if definition is not None else None,
            "step_id": approval.get("step_id") or execution.current_step,
            "prompt": approval.get("prompt"),
            "context": approval.get("context"),
            "approvers": approval.get("approvers"),
            "requested_at": approval.get("requested_at"),
            "due_at": due_at(approval),
            "quorum": approval.get("quorum", 1),
            "form": approval.get("form"),
            "decisions": [decision.as_output() for decision in decisions],
            "can_decide": reason is None,
            "cannot_decide_because": reason,
            "url": f"/api/v1/workflows/executions/{execution.id}",
        }


def due_at(approval: dict[str, Any]) -> str | None:
    """When the approval times out (``requested_at + timeout``), or ``None`` without a timeout."""
    timeout, requested = approval.get("timeout"), approval.get("requested_at")
    if not isinstance(timeout, int | float) or not isinstance(requested, str):
        return None
    try:
        return (datetime.datetime.fromisoformat(requested) + datetime.timedelta(seconds=timeout)).isoformat()
    except ValueError:
        return None


def _uuid(value: str) -> uuid.UUID:
    return uuid.UUID(str(value))


async def show_decisions(service: WorkflowService, execution: Execution) -> Execution:
    """``execution`` with the decisions so far of the approval it waits for under its halt data's ``decisions``
    (and the approval's ``due_at``), as ``GET .../executions/{id}`` shows them (docs/http-api.md, Approvals)."""
    approval = pending_approval(execution)
    if approval is not None:
        decisions = await decisions_of(service.store, halt_of(execution, approval))
        approval["decisions"] = [decision.as_output() for decision in decisions]
        approval["due_at"] = due_at(approval)
    return execution
