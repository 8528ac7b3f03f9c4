"""The approvals inbox's filter in SQL (:class:`~packs.core.workflow.stores.protocol.MayDecide`): of the
executions halted at an approval, those whose rule (``halt_data.rule``, resolved by the approval step) lets
the user decide and on whose halt they have not decided yet, so that a page of the inbox is read from the
database instead of filtered out of every halted execution (docs/http-api.md, Approvals).

What the rule cannot say in SQL stays for the caller: a halt under a sub-workflow (``halt_data.type`` is
``workflow``, its approval nested at any depth) and one recorded before approvals had rules are kept as
candidates; a timed-out approval too. JSON arrays are searched with ``@>`` on PostgreSQL (``jsonb``) and
``json_each`` on SQLite; the halt id, a UUID in the JSON and in ``workflow_decisions``, is compared as text.
"""

from __future__ import annotations

import uuid

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from packs.core.workflow.stores.protocol import MayDecide

RULE_LISTS = ("users", "emails", "roles")


def _listed(table: Table, dialect: str, name: str, value: str) -> ColumnElement[bool]:
    """Whether ``halt_data.rule.<name>`` (a JSON array of strings) holds ``value``."""
    if dialect == "postgresql":
        return type_coerce(table.c.halt_data, JSONB)[("rule", name)].contains([value])
    found = func.json_each(table.c.halt_data, f"$.rule.{name}").table_valued("value")
    return exists(select(literal(1)).select_from(found).where(found.c.value == value))


def _halt_text(decisions: Table, dialect: str) -> ColumnElement[str]:
    """A decision's halt id as the JSON spells a UUID (lowercase, with hyphens; without them on SQLite)."""
    if dialect == "postgresql":
        return cast(decisions.c.halt_id, String)
    return func.lower(func.hex(decisions.c.halt_id))


def may_decide_conditions(
    table: Table, decisions: Table | None, dialect: str, who: MayDecide
) -> list[ColumnElement[bool]]:
    """The conditions keeping the executions whose approval ``who`` may decide, or that SQL cannot rule out."""
    halt = table.c.halt_data
    kind = halt["type"].as_string()
    any_member = halt[("rule", "any_member")].as_boolean()
    requester = halt[("rule", "requester_id")].as_string()
    allowed_requester = func.coalesce(halt[("rule", "allow_requester")].as_boolean(), false()) == true()
    values = {"users": who.user_id, "emails": who.email.lower(), "roles": who.role}
    approver = or_(any_member == true(), *(_listed(table, dialect, name, values[name]) for name in RULE_LISTS))
    not_requester = or_(allowed_requester, func.coalesce(requester, "") != who.user_id)
    ruled = and_(kind == "approval", any_member.is_not(None))
    conditions: list[ColumnElement[bool]] = [or_(not_(ruled), and_(approver, not_requester))]
    if decisions is not None:
        halt_id = halt["halt_id"].as_string()
        mine = halt_id if dialect == "postgresql" else func.replace(halt_id, "-", "")
        decided = exists(
            select(literal(1)).where(
                decisions.c.execution_id == table.c.id,
                decisions.c.user_id == uuid.UUID(who.user_id),
                _halt_text(decisions, dialect) == mine,
            )
        )
        conditions.append(or_(kind != "approval", not_(decided)))
    return conditions


__all__ = ["may_decide_conditions"]
