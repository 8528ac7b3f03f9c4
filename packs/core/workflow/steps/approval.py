"""The ``approval`` step: halts for decisions, then goes on by them (docs/workflow-language.md, "approval").

At the halt the step resolves its ``approvers`` references into the rule (``halt_data.rule``) the
application checks deciders against, and names the halt (``halt_id``) that decisions answer. On
resume it reads the decisions recorded for that halt (:mod:`packs.core.workflow.decisions`); a resume
whose ``approved`` the decisions do not already give (the engine's ``resume``, an operator) is recorded
as an operator's decision, so every way of deciding leaves a record.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from packs.core.workflow.decisions import (
    Decision,
    approval_rule,
    halt_id,
    resolved_approver_problem,
    response_of,
    unreachable_quorum,
    verdict,
)
from packs.core.workflow.errors import StepError, StepValueError
from packs.core.workflow.model import utcnow
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import ApprovalConfig
from packs.core.workflow.steps.deadlines import cancel_deadline, schedule_deadline

if TYPE_CHECKING:
    from packs.core.workflow.state import RunState


PENDING_APPROVALS = "_pending_approvals"


class ApprovalStep(StepExecutor):
    """Halts for a decision; on resume goes to ``next`` (approved), ``on_reject`` or ``on_timeout``."""

    type_name = "approval"

    async def call(self, state: RunState) -> Outcome:
        settings: ApprovalConfig = self.settings
        pending: dict[str, str] = state.ctx.setdefault(PENDING_APPROVALS, {})
        requested_at = pending.get(self.step.id)
        if requested_at is None or not state.resumed:
            approvers = self._approvers(state, settings)
            requested = utcnow().isoformat()
            pending[self.step.id] = requested
            requester = state.execution.created_by_id
            halt = halt_id(state.execution.id, self.step.id, requested)
            if settings.timeout is not None:
                await schedule_deadline(state, self.step.id, halt, requested, settings.timeout)
            return self.halt(
                {
                    "type": "approval",
                    "step_id": self.step.id,
                    "prompt": self.resolve(state, settings.prompt),
                    "context": self.resolve(state, settings.context),
                    "approvers": settings.approvers,
                    "rule": approval_rule(approvers, allow_requester=settings.allow_requester, requester_id=requester),
                    "quorum": settings.quorum,
                    "form": settings.form,
                    "timeout": settings.timeout,
                    "requested_at": requested,
                    "halt_id": halt,
                },
                resume_step=self.step.id,
            )
        answered = halt_id(state.execution.id, self.step.id, requested_at)
        decisions = await self._decisions(state, answered)
        if settings.timeout is not None:
            await cancel_deadline(state)
            waited = (utcnow() - datetime.datetime.fromisoformat(requested_at)).total_seconds()
            if waited >= settings.timeout:
                self._clear(state, pending)
                if settings.on_timeout:
                    output = {"approved": None, "timed_out": True, "decisions": [d.as_output() for d in decisions]}
                    self.set_variable(state, settings.output, output)
                    return self.continue_(output=output, next_step=settings.on_timeout)
                raise StepError(f"step {self.step.id!r}: approval timed out after {settings.timeout:g}s")
        if state.resume_approved is None:
            raise StepError(f"step {self.step.id!r}: resume an approval with approved=true or approved=false")
        approved = bool(state.resume_approved)
        if verdict(decisions, settings.quorum) is not approved:
            operator = Decision(state.execution.id, self.step.id, answered, approved)
            await self._record(state, operator)
            decisions.append(operator)
        self._clear(state, pending)
        output = {
            "approved": approved,
            "decisions": [decision.as_output() for decision in decisions],
            "response": response_of(decisions, settings.quorum),
        }
        self.set_variable(state, settings.output, output)
        if approved:
            return self.continue_(output=output)
        if settings.on_reject:
            return self.continue_(output=output, next_step=settings.on_reject)
        raise StepError("Rejected")

    def _approvers(self, state: RunState, settings: ApprovalConfig) -> list[str] | None:
        """The ``approvers`` with their references resolved (a reference to a list adds each item)."""
        if settings.approvers is None:
            return None
        resolved: list[str] = []
        for entry in settings.approvers:
            value: Any = self.resolve(state, entry)
            for item in value if isinstance(value, list) else [value]:
                if (problem := resolved_approver_problem(item)) is not None:
                    raise StepValueError(f"step {self.step.id!r} field 'approvers': {entry!r} resolved to {problem}")
                resolved.append(item)
        if (problem := unreachable_quorum(resolved, settings.quorum)) is not None:
            raise StepValueError(f"step {self.step.id!r} field 'approvers' resolved to {resolved!r}: {problem}")
        return resolved

    async def _decisions(self, state: RunState, answered: str) -> list[Decision]:
        read = getattr(state.engine.store, "decisions", None)
        return list(await read(answered)) if read is not None else []

    async def _record(self, state: RunState, decision: Decision) -> None:
        add = getattr(state.engine.store, "add_decision", None)
        if add is not None:
            await add(decision)

    def _clear(self, state: RunState, pending: dict[str, str]) -> None:
        pending.pop(self.step.id, None)
        if not pending:
            state.ctx.pop(PENDING_APPROVALS, None)
