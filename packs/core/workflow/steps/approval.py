"""The ``approval`` step: halts for a decision (see docs/workflow-language.md, "approval")."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from packs.core.workflow.errors import StepError
from packs.core.workflow.model import utcnow
from packs.core.workflow.steps.base import Outcome, StepExecutor
from packs.core.workflow.steps.configs import ApprovalConfig

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
            requested = utcnow().isoformat()
            pending[self.step.id] = requested
            return self.halt(
                {
                    "type": "approval",
                    "prompt": self.resolve(state, settings.prompt),
                    "context": self.resolve(state, settings.context),
                    "approvers": settings.approvers,
                    "timeout": settings.timeout,
                    "requested_at": requested,
                },
                resume_step=self.step.id,
            )
        if settings.timeout is not None:
            waited = (utcnow() - datetime.datetime.fromisoformat(requested_at)).total_seconds()
            if waited > settings.timeout:
                self._clear(state, pending)
                if settings.on_timeout:
                    return self.continue_(output={"approved": None, "timed_out": True}, next_step=settings.on_timeout)
                raise StepError(f"step {self.step.id!r}: approval timed out after {settings.timeout:g}s")
        if state.resume_approved is None:
            raise StepError(f"step {self.step.id!r}: resume an approval with approved=true or approved=false")
        self._clear(state, pending)
        if state.resume_approved:
            return self.continue_(output={"approved": True})
        if settings.on_reject:
            return self.continue_(output={"approved": False}, next_step=settings.on_reject)
        raise StepError("Rejected")

    def _clear(self, state: RunState, pending: dict[str, str]) -> None:
        pending.pop(self.step.id, None)
        if not pending:
            state.ctx.pop(PENDING_APPROVALS, None)
