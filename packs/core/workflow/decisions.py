"""Approval decisions: the records, the approvers syntax, the quorum and the response form.

See docs/workflow-language.md, step type ``approval``. The engine records decisions and applies the
quorum; who may decide (emails, user ids and roles of the rule in the halt data) is the application's
to resolve, since the engine knows no users (docs/http-api.md, Approvals).
"""

from __future__ import annotations

import datetime
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from packs.core.workflow.errors import ResumeInputError
from packs.core.workflow.model import new_id, utcnow

HALT_NAMESPACE = uuid.UUID("5b1f0c3e-8d2a-4f6b-9c7e-2a4d6e8f0b1c")
"""The UUID namespace of halt ids (:func:`halt_id`)."""

USER_PREFIX = "user:"
ROLE_PREFIX = "role:"
ROLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Decision:
    """One decision on one approval halt: who (``user_id`` ``None``: an operator), approved or not, and why."""

    execution_id: str
    step_id: str
    halt_id: str
    approved: bool
    user_id: str | None = None
    email: str | None = None
    comment: str | None = None
    response: Any = None
    id: str = field(default_factory=new_id)
    decided_at: datetime.datetime = field(default_factory=utcnow)

    @property
    def by_operator(self) -> bool:
        """Whether an operator (no user) made it: it bypasses the rules and settles the approval."""
        return self.user_id is None

    def as_output(self) -> dict[str, Any]:
        """The decision as the step's output and the HTTP API show it."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "email": self.email,
            "by": self.email or ("operator" if self.by_operator else self.user_id),
            "approved": self.approved,
            "comment": self.comment,
            "response": self.response,
            "decided_at": self.decided_at.isoformat(),
        }


def halt_id(execution_id: str, step_id: str, requested_at: str) -> str:
    """The id of the approval halt of ``step_id`` requested at ``requested_at`` (the same on halt and resume)."""
    return str(uuid.uuid5(HALT_NAMESPACE, f"{execution_id}/{step_id}/{requested_at}"))


def approver_problem(entry: Any) -> str | None:
    """What is wrong with one ``approvers`` entry as written (``None``: fine); references are checked when resolved."""
    if not isinstance(entry, str) or not entry.strip():
        return f"{entry!r} is not an approver (give an email, 'user:<uuid>', 'role:<name>' or a role name)"
    if entry.startswith("$"):
        return None
    return resolved_approver_problem(entry)


def resolved_approver_problem(entry: Any) -> str | None:
    """What is wrong with one approver once references are resolved (``None``: fine)."""
    if not isinstance(entry, str):
        return f"{entry!r} is not an approver (give an email, 'user:<uuid>', 'role:<name>' or a role name)"
    if entry.startswith(USER_PREFIX):
        try:
            uuid.UUID(entry[len(USER_PREFIX) :])
        except ValueError:
            return f"{entry!r}: 'user:' must be followed by a user id (a UUID)"
        return None
    if entry.startswith(ROLE_PREFIX):
        name = entry[len(ROLE_PREFIX) :]
        return None if ROLE_NAME.match(name) else f"{entry!r}: 'role:' must be followed by a role name"
    if "@" in entry:
        return None if EMAIL.match(entry.strip()) else f"{entry!r} is not an email address (local@domain.tld)"
    if ":" in entry:
        return f"{entry!r}: unknown prefix (approvers are emails, 'user:<uuid>', 'role:<name>' or role names)"
    return None if ROLE_NAME.match(entry) else f"{entry!r} is not a role name (letters, digits, '_', '.', '-')"


def unreachable_quorum(approvers: list[Any], quorum: int) -> str | None:
    """Why ``quorum`` approvals can never come from ``approvers`` (``None``: they can, or a role may bring
    more people): only people are named (emails, ``user:<uuid>``; references not resolved count as maybe a
    role), and fewer distinct ones than the quorum (an email's case does not make another person)."""
    people = set()
    for entry in approvers:
        if not isinstance(entry, str) or not (entry.startswith(USER_PREFIX) or "@" in entry):
            return None
        people.add(entry.strip().lower())
    if len(people) >= quorum:
        return None
    if not people:
        return "no approver: nobody could decide (add approvers, a role, or leave approvers out)"
    return (
        f"{quorum} approvals can never be reached: only {len(people)} distinct approver(s) are named "
        "(add approvers, a role, or lower the quorum)"
    )


def approval_rule(approvers: list[str] | None, *, allow_requester: bool, requester_id: str | None) -> dict[str, Any]:
    """The resolved rule of who may decide: ``users``, ``emails``, ``roles``, or ``any_member`` without approvers."""
    rule: dict[str, Any] = {
        "any_member": approvers is None,
        "users": [],
        "emails": [],
        "roles": [],
        "allow_requester": allow_requester,
        "requester_id": requester_id,
    }
    for entry in approvers or []:
        if entry.startswith(USER_PREFIX):
            rule["users"].append(str(uuid.UUID(entry[len(USER_PREFIX) :])))
        elif entry.startswith(ROLE_PREFIX):
            rule["roles"].append(entry[len(ROLE_PREFIX) :])
        elif "@" in entry:
            rule["emails"].append(entry.strip().lower())
        else:
            rule["roles"].append(entry)
    return rule


def verdict(decisions: list[Decision], quorum: int) -> bool | None:
    """``False`` once anybody rejected, ``True`` once ``quorum`` distinct users (or an operator) approved, else
    ``None`` (still waiting)."""
    if any(not decision.approved for decision in decisions):
        return False
    if any(decision.by_operator for decision in decisions):
        return True
    return True if len({decision.user_id for decision in decisions}) >= quorum else None


def check_response(form: dict[str, Any] | None, response: Any) -> None:
    """:class:`ResumeInputError` naming the JSON pointer and the problem when ``response`` breaks ``form``."""
    if form is None:
        return
    validator = jsonschema.Draft202012Validator(form)
    error = jsonschema.exceptions.best_match(validator.iter_errors(response))
    if error is None:
        return
    pointer = "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in error.absolute_path)
    # jsonschema writes the value as Python does: a missing response (None) reads as JSON's null.
    message = "a response is required, got null" if response is None else error.message
    problem = f"at {pointer or '/'} (JSON pointer {pointer!r}): {message}"
    raise ResumeInputError(f"the response does not match the approval's form: {problem}", {"response": problem})


def response_of(decisions: list[Decision], quorum: int) -> Any:
    """The step's ``response``: the approving decision's, or with ``quorum`` over 1 the list of them."""
    responses = [decision.response for decision in decisions if decision.approved]
    if quorum > 1:
        return responses
    return responses[0] if responses else None
