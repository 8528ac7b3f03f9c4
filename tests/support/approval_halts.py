"""Executions halted at approvals, written straight into a workflow store (no workflow run), for the tests of the
approvals inbox (docs/http-api.md, Approvals): one per rule shape, created a second apart in the order added."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from packs.core.workflow import Execution
from packs.core.workflow.decisions import approval_rule

START = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)


@dataclass
class Halts:
    """Executions halted at approvals of every shape, by name, in one workspace (and one in another)."""

    store: Any
    workspace_id: str
    ids: dict[str, str]
    moment: int = 0

    async def add(self, name: str, halt: dict[str, Any], *, workspace_id: str | None = None) -> str:
        self.moment += 1
        created = START + datetime.timedelta(seconds=self.moment)
        execution = Execution(
            id=str(uuid.uuid4()),
            workflow_id="http_anyone",
            status="halted",
            workspace_id=workspace_id or self.workspace_id,
            current_step="approve",
            halt_data=halt,
            created_at=created,
            updated_at=created,
        )
        await self.store.add(execution)
        self.ids[name] = execution.id
        return execution.id


def approval(
    approvers: list[str] | None,
    *,
    requester: str | None = None,
    allow_requester: bool = False,
    timeout: int | None = None,
) -> dict[str, Any]:
    """The halt data of an approval step, with the rule it resolves."""
    return {
        "type": "approval",
        "step_id": "approve",
        "prompt": "Ok?",
        "approvers": approvers,
        "rule": approval_rule(approvers, allow_requester=allow_requester, requester_id=requester),
        "quorum": 2,
        "timeout": timeout,
        "requested_at": (
            START - datetime.timedelta(days=1) if timeout else datetime.datetime.now(datetime.UTC)
        ).isoformat(),
        "halt_id": str(uuid.uuid4()),
    }
