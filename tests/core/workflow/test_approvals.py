"""Approvals with rules in the engine (docs/workflow-language.md, step type ``approval``): the halt's rule,
decisions as records, the quorum, a rejection, the form, operator decisions, timeouts and load-time checks.

On MemoryStore and the SQL store over SQLite and PostgreSQL; the clock is frozen where time matters.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from typing import Any

import pytest

from packs.core import workflow as wf
from packs.core.workflow import clock
from packs.core.workflow.decisions import verdict
from packs.core.workflow.queue.decisions import AlreadyDecidedError, decide
from tests.core.workflow.test_engine import doc

ADA, BOB, CY = (str(uuid.uuid4()) for _ in range(3))


def approval(**keys: Any) -> dict[str, Any]:
    steps = doc(
        {"id": "ask", "type": "approval", "prompt": "Import $input.n?", "on_reject": "rejected", **keys},
        {"id": "approved", "type": "end", "result": {"ask": "$ask_output"}},
        {"id": "rejected", "type": "end", "result": {"rejected": True}},
    )
    steps["steps"][1]["output"] = "ask_output"
    return steps


def engine_for(store: wf.Store, document: dict[str, Any]) -> wf.Engine:
    document = dict(document)
    return wf.Engine(wf.load(document), store=store)


async def halted(store: wf.Store, document: dict[str, Any], **input: Any) -> tuple[wf.Engine, str, dict[str, Any]]:
    engine = engine_for(store, document)
    result = await engine.run(input={"n": 3, **input}, created_by_id=CY)
    assert result.status == "halted", result
    assert result.halt is not None
    return engine, result.execution_id, result.halt.data


async def stored_decisions(store: Any, execution_id: str) -> list[wf.Decision]:
    return list(await store.execution_decisions(execution_id))


async def test_the_halt_keeps_approvers_as_written_and_the_resolved_rule(store: wf.Store) -> None:
    document = approval(
        approvers=["role:admin", "manager", "Ada@Example.com", f"user:{ADA}", "$input.manager_email"],
        quorum=2,
        form={"type": "object", "required": ["reason"]},
    )
    _, _, data = await halted(store, document, manager_email="boss@example.com")
    assert data["approvers"] == ["role:admin", "manager", "Ada@Example.com", f"user:{ADA}", "$input.manager_email"]
    assert data["rule"] == {
        "any_member": False,
        "users": [ADA],
        "emails": ["ada@example.com", "boss@example.com"],
        "roles": ["admin", "manager"],
        "allow_requester": False,
        "requester_id": CY,
    }
    assert (data["quorum"], data["form"], data["step_id"]) == (2, {"type": "object", "required": ["reason"]}, "ask")
    assert uuid.UUID(data["halt_id"])
    no_rule = (await halted(store, approval()))[2]
    assert no_rule["rule"]["any_member"] is True
    assert no_rule["quorum"] == 1


async def test_a_reference_resolving_to_no_approver_fails_the_step(store: wf.Store) -> None:
    engine = engine_for(store, approval(approvers=["$input.manager_email"]))
    result = await engine.run(input={"n": 1, "manager_email": "not an approver!"})
    assert result.status == "failed"
    assert "field 'approvers'" in str(result.error)


async def test_quorum_two_needs_two_distinct_users_and_a_user_decides_once(store: wf.QueueStore) -> None:
    engine, execution_id, data = await halted(store, approval(quorum=2))
    first = await decide(store, execution_id, approved=True, user_id=ADA, email="ada@example.com", response="yes")
    assert first.verdict is None
    assert first.execution.status == "halted"
    with pytest.raises(AlreadyDecidedError, match="already decided"):
        await decide(store, execution_id, approved=True, user_id=ADA, email="ada@example.com")
    second = await decide(store, execution_id, approved=True, user_id=BOB, email="bob@example.com", comment="ok")
    assert second.verdict is True
    assert second.execution.status == "pending"
    assert [d.email for d in second.decisions] == ["ada@example.com", "bob@example.com"]
    done = await engine.recover(execution_id)
    assert done.status == "completed"
    output = done.output["ask"]
    assert output["approved"] is True
    assert output["response"] == ["yes", None]
    assert [(d["user_id"], d["email"], d["approved"], d["comment"]) for d in output["decisions"]] == [
        (ADA, "ada@example.com", True, None),
        (BOB, "bob@example.com", True, "ok"),
    ]
    recorded = await stored_decisions(store, execution_id)
    halt = data["halt_id"]
    assert [(d.user_id, d.halt_id, d.step_id) for d in recorded] == [(ADA, halt, "ask"), (BOB, halt, "ask")]
    with pytest.raises(wf.ExecutionStateError, match="is completed"):
        await decide(store, execution_id, approved=True, user_id=CY)


async def test_one_rejection_rejects_whatever_the_quorum(store: wf.QueueStore) -> None:
    engine, execution_id, _ = await halted(store, approval(quorum=3))
    await decide(store, execution_id, approved=True, user_id=ADA)
    rejected = await decide(store, execution_id, approved=False, user_id=BOB, comment="too many")
    assert rejected.verdict is False
    done = await engine.recover(execution_id)
    assert done.output == {"rejected": True}
    execution = await store.load(execution_id)
    assert execution is not None
    assert execution.ctx["approved"] is False


async def test_an_approving_response_must_fit_the_form_and_a_bad_one_records_nothing(store: wf.QueueStore) -> None:
    form = {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "minLength": 3}}}
    engine, execution_id, _ = await halted(store, approval(form=form))
    with pytest.raises(wf.ResumeInputError, match="/reason") as raised:
        await decide(store, execution_id, approved=True, user_id=ADA, response={"reason": "no"})
    assert "too short" in raised.value.details["response"]
    with pytest.raises(wf.ResumeInputError, match="'reason' is a required property"):
        await decide(store, execution_id, approved=True, user_id=ADA, response={})
    with pytest.raises(wf.ResumeInputError, match="a response is required, got null"):
        await decide(store, execution_id, approved=True, user_id=ADA)
    assert await stored_decisions(store, execution_id) == []
    execution = await store.load(execution_id)
    assert execution is not None
    assert execution.status == "halted"
    ok = await decide(store, execution_id, approved=True, user_id=ADA, response={"reason": "fine by me"})
    assert ok.verdict is True
    assert (await engine.recover(execution_id)).output["ask"]["response"] == {"reason": "fine by me"}


async def test_a_rejection_needs_no_form(store: wf.QueueStore) -> None:
    _, execution_id, _ = await halted(store, approval(form={"type": "object", "required": ["reason"]}))
    assert (await decide(store, execution_id, approved=False, user_id=ADA)).verdict is False


async def test_the_engines_resume_is_recorded_as_an_operator_decision(store: wf.QueueStore) -> None:
    engine, execution_id, _ = await halted(store, approval(quorum=2))
    await decide(store, execution_id, approved=True, user_id=ADA)
    execution = await store.load(execution_id)
    assert execution is not None
    assert execution.status == "halted"
    done = await engine.resume(execution_id, approved=True)
    assert done.status == "completed"
    decisions = done.output["ask"]["decisions"]
    assert [(d["user_id"], d["by"], d["approved"]) for d in decisions] == [(ADA, ADA, True), (None, "operator", True)]
    recorded = await stored_decisions(store, execution_id)
    assert [d.user_id for d in recorded] == [ADA, None]


async def test_an_operator_decision_through_decide_bypasses_the_quorum(store: wf.QueueStore) -> None:
    engine, execution_id, _ = await halted(store, approval(quorum=5))
    settled = await decide(store, execution_id, approved=True, comment="ops override")
    assert settled.verdict is True
    done = await engine.recover(execution_id)
    assert [(d["by"], d["comment"]) for d in done.output["ask"]["decisions"]] == [("operator", "ops override")]


async def test_past_its_timeout_an_approval_takes_no_decision_and_resume_goes_to_on_timeout(
    store: wf.QueueStore,
) -> None:
    start = datetime.datetime(2026, 12, 1, 9, tzinfo=datetime.UTC)
    with clock.frozen(start) as moment:
        document = approval(timeout=3600, on_timeout="late", quorum=2)
        document["steps"].append({"id": "late", "type": "end", "result": {"late": "$ask_output"}})
        document["steps"][1]["on_timeout"] = "late"
        engine, execution_id, _ = await halted(store, document)
        moment.advance(seconds=60)
        await decide(store, execution_id, approved=True, user_id=ADA)
        moment.advance(seconds=3600)
        with pytest.raises(wf.ExecutionStateError, match="timed out"):
            await decide(store, execution_id, approved=True, user_id=BOB)
        result = await engine.resume(execution_id, approved=True)
    assert result.status == "completed"
    late = result.output["late"]
    assert (late["approved"], late["timed_out"]) == (None, True)
    assert [d["user_id"] for d in late["decisions"]] == [ADA]


async def test_a_decision_on_what_is_not_an_approval_halt_is_a_state_error(store: wf.QueueStore) -> None:
    engine = engine_for(store, doc({"id": "wait", "type": "halt"}))
    result = await engine.run()
    with pytest.raises(wf.ExecutionStateError, match="not halted at an approval"):
        await decide(store, result.execution_id, approved=True, user_id=ADA)
    with pytest.raises(wf.ExecutionNotFoundError):
        await decide(store, str(uuid.uuid4()), approved=True, user_id=ADA)


def test_verdict_counts_distinct_users() -> None:
    halt = str(uuid.uuid4())
    same = [wf.Decision("e", "s", halt, True, user_id=ADA), wf.Decision("e", "s", halt, True, user_id=ADA)]
    assert verdict(same, 2) is None
    assert verdict([*same, wf.Decision("e", "s", halt, True, user_id=BOB)], 2) is True
    assert verdict([wf.Decision("e", "s", halt, False, user_id=BOB)], 1) is False
    assert verdict([], 1) is None


def test_load_time_checks_list_every_approval_problem_with_the_others() -> None:
    document = approval(
        approvers=["team:sales", "user:not-a-uuid", "bad email@", "", 3],
        form={"type": "objet"},
    )
    document["steps"][1]["next"] = "nowhere"
    with pytest.raises(wf.ValidationError) as raised:
        wf.load(document)
    problems = "\n".join(raised.value.problems)
    assert "no step 'nowhere'" in problems
    assert "approvers[0]': 'team:sales': unknown prefix" in problems
    assert "approvers[1]': 'user:not-a-uuid': 'user:' must be followed by a user id" in problems
    assert "approvers[2]': 'bad email@' is not an email address" in problems
    assert "approvers[3]'" in problems
    assert "field 'form': invalid JSON Schema at /type" in problems


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ({"quorum": 0}, "quorum"),
        ({"quorum": "two"}, "quorum"),
        ({"quorum": True}, "quorum"),
        ({"approvers": ["a@example.com", f"user:{ADA}"], "quorum": 3}, "3 approvals can never be reached"),
        ({"allow_requester": "yes"}, "allow_requester"),
        ({"form": "a schema"}, "form"),
        ({"approvers": "admin"}, "approvers"),
    ],
)
def test_bad_quorum_and_keys_are_load_time_errors(keys: dict[str, Any], expected: str) -> None:
    with pytest.raises(wf.ValidationError, match=expected):
        wf.load(approval(**keys))


def test_a_quorum_a_role_may_reach_is_fine() -> None:
    wf.load(approval(approvers=["a@example.com", "role:admin"], quorum=3, allow_requester=True))


async def test_two_concurrent_last_approvals_settle_it_once(store: wf.QueueStore) -> None:
    _, execution_id, _ = await halted(store, approval(quorum=2))
    await decide(store, execution_id, approved=True, user_id=ADA)
    outcomes = await asyncio.gather(
        decide(store, execution_id, approved=True, user_id=BOB),
        decide(store, execution_id, approved=True, user_id=CY),
        return_exceptions=True,
    )
    settled = [o for o in outcomes if isinstance(o, wf.Decided) and o.verdict is True]
    refused = [o for o in outcomes if isinstance(o, wf.ExecutionStateError)]
    assert len(settled) == 1, outcomes
    assert len(refused) == 1, outcomes
    assert len(await stored_decisions(store, execution_id)) == 2
    execution = await store.load(execution_id)
    assert execution is not None
    assert execution.status == "pending"


async def test_deleting_an_execution_deletes_its_decisions(store: wf.QueueStore) -> None:
    _, execution_id, _ = await halted(store, approval(quorum=2))
    await decide(store, execution_id, approved=True, user_id=ADA)
    assert len(await stored_decisions(store, execution_id)) == 1
    assert await store.delete(execution_id)
    assert await stored_decisions(store, execution_id) == []
