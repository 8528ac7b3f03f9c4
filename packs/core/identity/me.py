"""Who the caller is and which workspaces they may act in: what ``GET /api/v1/me`` answers (docs/http-api.md,
"Identity"). No workspace is chosen here, so a user of several workspaces can learn their ids."""

from __future__ import annotations

from uuid import UUID

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.identity.authenticate import IdentityError, parse_bearer
from packs.core.identity.tokens import hash_token
from packs.core.models.identity import ApiToken, Membership, User, Workspace


class MeUser(msgspec.Struct):
    """The authenticated user."""

    id: UUID
    email: str


class MeWorkspace(msgspec.Struct):
    """A workspace the user belongs to, with their role in it; ``id`` is what ``X-Workspace-Id`` takes."""

    id: UUID
    name: str
    role: str


class Me(msgspec.Struct):
    """The user and their workspaces, by name."""

    user: MeUser
    workspaces: list[MeWorkspace]


async def who_am_i(session: AsyncSession, authorization: str | None) -> Me:
    """The bearer token's user and memberships; :class:`IdentityError` (401) for a missing, malformed, unknown
    or revoked token."""
    token = parse_bearer(authorization)
    statement = (
        select(User.id, User.email, ApiToken.revoked_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token))
    )
    row = (await session.execute(statement)).first()
    if row is None:
        raise IdentityError(401, "invalid token: no such API token")
    user_id, email, revoked_at = row
    if revoked_at is not None:
        raise IdentityError(401, "revoked token: this API token was revoked")
    memberships = (
        select(Workspace.id, Workspace.name, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id)
        .order_by(Workspace.name, Workspace.id)
    )
    workspaces = [MeWorkspace(id=id, name=name, role=role) for id, name, role in await session.execute(memberships)]
    return Me(user=MeUser(id=user_id, email=email), workspaces=workspaces)
