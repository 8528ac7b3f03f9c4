"""Who a workflow run from the command line belongs to: a workspace and a user who is its member.

``litestar workflows run --workspace W --user U`` (README, "Workflows"): ``W`` is a workspace id or
name, ``U`` a user id or email. Without the options the input's ``workspace_id`` / ``user_id`` name
them. Either way both must exist and the user must be a member, so that the execution can be seen,
approved and retried over HTTP with that workspace's token.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.identity.accounts import normalize_email
from packs.core.models.identity import Membership, User, Workspace


class OwnerError(ValueError):
    """The workspace or the user named for a run cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Owner:
    """The workspace and user an execution is recorded under (both ``None``: nobody's, as before)."""

    workspace_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def _reference(option: str | None, given: Mapping[str, Any], key: str, flag: str) -> str | None:
    """What names the workspace or the user: the option, else the input's ``key`` (a string)."""
    if option is not None:
        return option
    value = given.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise OwnerError(f"input {key!r} must be a string (an id), got {value!r}; or give {flag}")
    return value


async def find_workspace(session: AsyncSession, reference: str) -> Workspace:
    """The workspace with this id, or the one with this name; :class:`OwnerError` when none (or several)."""
    key = _as_uuid(reference)
    if key is not None:
        found = await session.get(Workspace, key)
        if found is None:
            raise OwnerError(f"no workspace with id {key}")
        return found
    named = list((await session.execute(select(Workspace).where(Workspace.name == reference.strip()))).scalars())
    if not named:
        raise OwnerError(f"no workspace named {reference.strip()!r}")
    if len(named) > 1:
        raise OwnerError(f"several workspaces are named {reference.strip()!r}: give the workspace id")
    return named[0]


async def find_user(session: AsyncSession, reference: str) -> User:
    """The user with this id or email; :class:`OwnerError` when there is none."""
    key = _as_uuid(reference)
    if key is not None:
        found = await session.get(User, key)
        if found is None:
            raise OwnerError(f"no user with id {key}")
        return found
    try:
        email = normalize_email(reference)
    except ValueError:
        raise OwnerError(f"{reference!r} is neither a user id nor an email") from None
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    if user is None:
        raise OwnerError(f"no user with email {email!r}")
    return user


async def workspaces_of(session: AsyncSession, user: User) -> list[uuid.UUID]:
    """The ids of the workspaces ``user`` is a member of."""
    rows = await session.execute(select(Membership.workspace_id).where(Membership.user_id == user.id))
    return list(rows.scalars())


async def resolve_owner(
    session: AsyncSession, workspace: str | None, user: str | None, given: Mapping[str, Any]
) -> Owner:
    """The owner of a run: ``workspace`` / ``user`` options, else the input's ``workspace_id`` / ``user_id``.

    Both must name existing records and the user must be a member of the workspace; a user of one
    workspace needs no ``--workspace``. An option that disagrees with the input is an error.
    """
    workspace_ref = _reference(workspace, given, "workspace_id", "--workspace")
    user_ref = _reference(user, given, "user_id", "--user")
    if workspace_ref is None and user_ref is None:
        return Owner()
    if user_ref is None:
        raise OwnerError("name the user who starts it too (--user or the input's user_id): a member of the workspace")
    found_user = await find_user(session, user_ref)
    memberships = await workspaces_of(session, found_user)
    if workspace_ref is None:
        if len(memberships) != 1:
            raise OwnerError(
                f"user {found_user.email} belongs to {len(memberships)} workspaces: name one with --workspace"
            )
        found_workspace_id = memberships[0]
    else:
        found_workspace_id = (await find_workspace(session, workspace_ref)).id
    if found_workspace_id not in memberships:
        raise OwnerError(f"user {found_user.email} is not a member of workspace {found_workspace_id}")
    for key, option, value in (("workspace_id", workspace, found_workspace_id), ("user_id", user, found_user.id)):
        stated = given.get(key)
        if option is not None and stated is not None and (not isinstance(stated, str) or _as_uuid(stated) != value):
            raise OwnerError(f"input {key!r} is {stated!r}, but the options name {value}")
    return Owner(workspace_id=found_workspace_id, user_id=found_user.id)


__all__ = ["Owner", "OwnerError", "resolve_owner"]
