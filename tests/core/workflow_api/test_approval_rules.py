"""Who may decide on an approval (docs/http-api.md, Approvals): the rule of a halt checked against a caller."""

from __future__ import annotations

import uuid
from typing import Any

from packs.core.workflow.decisions import approval_rule
from packs.core.workflow_api.approvals import Decider, due_at, why_not

ADA, BOB = str(uuid.uuid4()), str(uuid.uuid4())


def halt(approvers: list[str] | None, *, allow_requester: bool = False, requester: str | None = ADA) -> dict[str, Any]:
    rule = approval_rule(approvers, allow_requester=allow_requester, requester_id=requester)
    return {"type": "approval", "approvers": approvers, "rule": rule}


def test_emails_user_ids_and_roles_each_let_a_member_decide() -> None:
    bob = Decider(BOB, "bob@example.com", "member")
    assert why_not(halt(["BOB@example.com"]), bob) is None
    assert why_not(halt([f"user:{BOB}"]), bob) is None
    assert why_not(halt(["role:member"]), bob) is None
    assert why_not(halt(["member"]), bob) is None
    assert "not an approver" in str(why_not(halt(["admin", "cy@example.com"]), bob))


def test_the_requester_only_with_allow_requester_and_never_a_non_member() -> None:
    ada = Decider(ADA, "ada@example.com", "admin")
    assert "you started this execution" in str(why_not(halt(["admin"]), ada))
    assert why_not(halt(["admin"], allow_requester=True), ada) is None
    assert why_not(halt(None, requester=None), ada) is None
    outsider = Decider(BOB, "bob@example.com", None)
    assert "not a member" in str(why_not(halt(None), outsider))


def test_a_halt_from_before_rules_keeps_its_approvers_and_allows_the_requester() -> None:
    legacy = {"type": "approval", "approvers": ["admin"]}
    assert why_not(legacy, Decider(ADA, "ada@example.com", "admin")) is None
    assert why_not(legacy, Decider(BOB, "bob@example.com", "member")) is not None
    assert why_not({"type": "approval", "approvers": None}, Decider(BOB, "bob@example.com", "member")) is None


def test_due_at_is_requested_at_plus_the_timeout() -> None:
    assert due_at({"requested_at": "2026-12-01T09:00:00+00:00", "timeout": 90}) == "2026-12-01T09:01:30+00:00"
    assert due_at({"requested_at": "2026-12-01T09:00:00+00:00", "timeout": None}) is None
