"""The approvals inbox's filter in SQL (:class:`~packs.core.workflow.stores.protocol.MayDecide`): of the
executions halted at an approval, those whose rule (``halt_data.rule``, resolved by the approval step) lets
the user decide and on whose halt they have not decided yet, so that a page of the inbox is read from the
database instead of filtered out of every halted execution (docs/http-api.md, Approvals).

What the rule cannot say in SQL stays for the caller: a halt under a sub-workflow (``halt_data.type`` is
``workflow``, its approval nested at any depth) and one recorded before approvals had rules (no
``rule.any_member``) are kept as candidates; a timed-out approval too. JSON arrays are searched with ``@>`` on
PostgreSQL (``jsonb``) and ``json_each`` on SQLite; the halt id, a UUID in the JSON and in
``workflow_decisions``, is compared as text. The condition is one SQL text per dialect with bound parameters:
every page of the inbox (and the pending count every console page shows) builds it, and an expression tree
of its size costs more to build and to key for SQLAlchemy's cache than the query costs to run.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, String, Table, bindparam, text

from packs.core.workflow.stores.protocol import MayDecide

POSTGRES = """(
  ({halt}->>'type') <> 'approval' OR ({halt} #> '{{rule,any_member}}') IS NULL
  OR (
    (({halt} #>> '{{rule,any_member}}') = 'true'
     OR ({halt} #> '{{rule,users}}') @> jsonb_build_array(CAST(:may_user AS text))
     OR ({halt} #> '{{rule,emails}}') @> jsonb_build_array(CAST(:may_email AS text))
     OR ({halt} #> '{{rule,roles}}') @> jsonb_build_array(CAST(:may_role AS text)))
    AND (coalesce({halt} #>> '{{rule,allow_requester}}', 'false') = 'true'
         OR coalesce({halt} #>> '{{rule,requester_id}}', '') <> :may_user)
    {undecided}))"""
POSTGRES_UNDECIDED = """AND NOT EXISTS (SELECT 1 FROM {decisions} AS decided
      WHERE decided.execution_id = {executions}.id AND decided.user_id = :may_user_key
      AND CAST(decided.halt_id AS text) = ({halt}->>'halt_id'))"""
SQLITE = """(
  json_extract({halt}, '$.type') <> 'approval' OR json_extract({halt}, '$.rule.any_member') IS NULL
  OR (
    (json_extract({halt}, '$.rule.any_member') = 1
     OR EXISTS (SELECT 1 FROM json_each({halt}, '$.rule.users') WHERE json_each.value = :may_user)
     OR EXISTS (SELECT 1 FROM json_each({halt}, '$.rule.emails') WHERE json_each.value = :may_email)
     OR EXISTS (SELECT 1 FROM json_each({halt}, '$.rule.roles') WHERE json_each.value = :may_role))
    AND (coalesce(json_extract({halt}, '$.rule.allow_requester'), 0) = 1
         OR coalesce(json_extract({halt}, '$.rule.requester_id'), '') <> :may_user)
    {undecided}))"""
SQLITE_UNDECIDED = """AND NOT EXISTS (SELECT 1 FROM {decisions} AS decided
      WHERE decided.execution_id = {executions}.id AND decided.user_id = :may_user_key
      AND lower(hex(decided.halt_id)) = replace(json_extract({halt}, '$.halt_id'), '-', ''))"""
_TEXTS: dict[tuple[str, str, str | None], str] = {}


def _sql(dialect: str, executions: str, decisions: str | None) -> str:
    cached = _TEXTS.get((dialect, executions, decisions))
    if cached is None:
        template, undecided = (POSTGRES, POSTGRES_UNDECIDED) if dialect == "postgresql" else (SQLITE, SQLITE_UNDECIDED)
        halt = f"{executions}.halt_data"
        names = {"halt": halt, "executions": executions, "decisions": decisions}
        cached = template.format(undecided=undecided.format(**names) if decisions else "", **names)
        _TEXTS[(dialect, executions, decisions)] = cached
    return cached


def may_decide_conditions(
    table: Table, decisions: Table | None, dialect: str, who: MayDecide
) -> list[ColumnElement[bool]]:
    """The condition keeping the executions whose approval ``who`` may decide, or that SQL cannot rule out."""
    try:
        user_key = uuid.UUID(who.user_id)
    except ValueError:  # not a user's id: no decision of theirs exists
        user_key = uuid.UUID(int=0)
    statement = text(_sql(dialect, table.name, None if decisions is None else decisions.name))
    params = [
        bindparam("may_user", who.user_id, type_=String()),
        bindparam("may_email", who.email.lower(), type_=String()),
        bindparam("may_role", who.role, type_=String()),
    ]
    if decisions is not None:
        params.append(bindparam("may_user_key", user_key, type_=decisions.c.user_id.type))
    return [statement.bindparams(*params)]  # type: ignore[list-item]


__all__ = ["may_decide_conditions"]
