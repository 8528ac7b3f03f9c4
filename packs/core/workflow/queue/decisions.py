"""Deciding on an approval: record the decision, apply the quorum, queue the resume once it is settled.

See docs/workflow-language.md, step type ``approval``. :func:`decide` checks what the engine can know
(the execution waits for this approval, it has not timed out, the response fits the ``form``, the user
has not decided this halt yet); whether the user may decide at all is the application's to check first
(the rule in the halt data names emails, user ids and roles). The decision, and the resume it may
settle, are written in one unit of the store, after a compare-and-set on the halted execution that
serializes concurrent decisions: of two last approvals, one queues the resume and the other sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from packs.core.workflow.decisions import Decision, check_response, halt_id, verdict
from packs.core.workflow.errors import ExecutionStateError
from packs.core.workflow.model import Execution, Status
from packs.core.workflow.queue.control import load_execution, queue_resume
from packs.core.workflow.resume_input import timed_out, waiting_approval
from packs.core.workflow.state import to_json_value
from packs.core.workflow.stores.protocol import QueueStore


class AlreadyDecidedError(ExecutionStateError):
    """The user already decided on this halt of the approval (a user decides once per halt)."""


@dataclass(frozen=True)
class Decided:
    """What :func:`decide` did: the decision, every decision of the halt so far, and the execution after it."""

    decision: Decision
    decisions: list[Decision]
    execution: Execution
    verdict: bool | None
    """``True``/``False`` when this decision settled the approval (its resume is queued), ``None`` while it waits."""


def pending_approval(execution: Execution) -> dict[str, Any] | None:
    """The halt data of the approval a halted execution waits for (through sub-workflows), or ``None``."""
    if execution.status != Status.HALTED:
        return None
    return waiting_approval(execution.halt_data)


def halt_of(execution: Execution, approval: dict[str, Any]) -> str:
    """The id of the approval halt (halts recorded before halt ids existed get the one the step computes)."""
    given = approval.get("halt_id")
    if isinstance(given, str):
        return given
    return halt_id(execution.id, str(execution.current_step), str(approval.get("requested_at")))


async def decisions_of(store: QueueStore, halt: str) -> list[Decision]:
    """The decisions recorded for ``halt``, oldest first (none on a store that keeps no decisions)."""
    read = getattr(store, "decisions", None)
    return list(await read(halt)) if read is not None else []


def check_decidable(execution: Execution) -> dict[str, Any]:
    """The approval ``execution`` waits for; :class:`ExecutionStateError` when it waits for none or timed out."""
    approval = pending_approval(execution)
    if approval is None:
        raise ExecutionStateError(
            f"execution {execution.id} is {execution.status}"
            + (", not halted at an approval" if execution.status == Status.HALTED else "")
            + "; only an execution halted at an approval takes decisions"
        )
    if timed_out(approval):
        raise ExecutionStateError(
            f"execution {execution.id}: the approval timed out ({approval.get('timeout')}s after "
            f"{approval.get('requested_at')}); it takes no more decisions"
        )
    return approval


async def decide(
    store: QueueStore,
    execution_id: str,
    *,
    approved: bool,
    user_id: str | None = None,
    email: str | None = None,
    comment: str | None = None,
    response: Any = None,
    expected_halt: str | None = None,
) -> Decided:
    """Record a decision on the approval ``execution_id`` waits for; queue its resume when it settles it.

    ``user_id`` ``None`` is an operator's decision, which settles the approval whatever its rules (and form).
    ``expected_halt``: the halt the caller checked its rights against (a decision never lands on a newer
    halt). :class:`ExecutionStateError` (nothing written) when the execution does not wait for this
    approval, it timed out or the user already decided (:class:`AlreadyDecidedError`);
    :class:`~packs.core.workflow.errors.ResumeInputError` when an approving response breaks the ``form``.
    """
    response = to_json_value(response, "the response")
    execution = await load_execution(store, execution_id)
    approval = check_decidable(execution)
    halt = halt_of(execution, approval)
    if expected_halt is not None and halt != expected_halt:
        raise ExecutionStateError(f"execution {execution_id} halted again meanwhile; decide on its new approval")
    if approved and user_id is not None:  # an operator's decision bypasses the rules, the form too
        form = approval.get("form")
        check_response(form if isinstance(form, dict) else None, response)
    async with store.unit():
        # The unit's first statement is this write: it serializes the decisions on this halt (a row lock on
        # PostgreSQL, the write lock on SQLite) and fails when the execution left the halt meanwhile.
        if not await store.transition(execution, [Status.HALTED]):
            raise ExecutionStateError(f"execution {execution_id} is no longer halted; it was resumed or cancelled")
        earlier = await decisions_of(store, halt)
        if user_id is not None and any(decision.user_id == user_id for decision in earlier):
            raise AlreadyDecidedError(f"you already decided on this approval of execution {execution_id}")
        if verdict(earlier, _quorum(approval)) is not None:
            raise ExecutionStateError(f"execution {execution_id}: this approval is decided already")
        decision = Decision(
            execution_id=execution.id,
            step_id=str(approval.get("step_id") or execution.current_step),
            halt_id=halt,
            approved=approved,
            user_id=user_id,
            email=email,
            comment=comment,
            response=response,
        )
        add = getattr(store, "add_decision", None)
        if add is None:
            raise ExecutionStateError("this store keeps no decisions")
        await add(decision)
        decisions = [*earlier, decision]
        settled = verdict(decisions, _quorum(approval))
        if settled is not None:
            execution = await queue_resume(store, execution_id, None, settled)
    return Decided(decision, decisions, execution, settled)


def _quorum(approval: dict[str, Any]) -> int:
    quorum = approval.get("quorum")
    return quorum if isinstance(quorum, int) and quorum >= 1 else 1


async def decide_as_operator(
    store: QueueStore, execution_id: str, approved: bool, comment: str | None = None, response: Any = None
) -> Decided | None:
    """An operator's decision (no user; it bypasses the rules and the form) on the approval ``execution_id`` waits
    for, with its ``comment`` and ``response``: the decision and the queued resume it settles, in one unit
    (:func:`decide`), or neither. ``None`` (nothing written) when the execution waits for no approval that can
    still be decided: resume it as usual then."""
    execution = await load_execution(store, execution_id)
    approval = pending_approval(execution)
    if approval is None or timed_out(approval) or getattr(store, "add_decision", None) is None:
        return None
    return await decide(
        store,
        execution_id,
        approved=approved,
        comment=comment,
        response=response,
        expected_halt=halt_of(execution, approval),
    )
