"""Who is calling and in which workspace: bearer token and ``X-Workspace-Id`` (docs/http-api.md, Identity)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.identity.tokens import hash_token
from packs.core.models.identity import ApiToken, Membership


class IdentityError(Exception):
    """The request's identity is missing or not acceptable; ``status_code`` is 400, 401 or 403."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass(frozen=True)
class Identity:
    """The authenticated user and the workspace the request acts in."""

    user_id: UUID
    workspace_id: UUID


def parse_bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; 401 when missing or malformed."""
    if not authorization:
        raise IdentityError(401, "missing Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise IdentityError(401, "malformed Authorization header: expected 'Bearer <token>'")
    return token


def parse_workspace_header(value: str | None) -> UUID | None:
    """The workspace id of an ``X-Workspace-Id`` header (``None`` when absent); 400 when it is not a UUID,
    an empty or blank header included (docs/http-api.md, "Identity")."""
    if value is None:
        return None
    if not value.strip():
        raise IdentityError(400, "X-Workspace-Id is empty: send a workspace UUID, or leave the header out")
    try:
        return UUID(value.strip())
    except ValueError:
        raise IdentityError(400, f"X-Workspace-Id must be a workspace UUID, got {value!r}") from None


async def authenticate(session: AsyncSession, authorization: str | None, workspace_header: str | None) -> Identity:
    """Resolve the caller's identity in one query; raise :class:`IdentityError` for each failing case."""
    token = parse_bearer(authorization)
    workspace_id = parse_workspace_header(workspace_header)
    membership_on = Membership.user_id == ApiToken.user_id
    if workspace_id is not None:
        membership_on = and_(membership_on, Membership.workspace_id == workspace_id)
    statement = (
        select(ApiToken.user_id, ApiToken.revoked_at, Membership.workspace_id)
        .outerjoin(Membership, membership_on)
        .where(ApiToken.token_hash == hash_token(token))
        .limit(2)
    )
    rows = (await session.execute(statement)).all()
    if not rows:
        raise IdentityError(401, "invalid token: no such API token")
    user_id, revoked_at, first_workspace = rows[0]
    if revoked_at is not None:
        raise IdentityError(401, "revoked token: this API token was revoked")
    if workspace_id is not None:
        if first_workspace is None:
            raise IdentityError(403, f"not a member of workspace {workspace_id} (or it does not exist)")
        return Identity(user_id=user_id, workspace_id=workspace_id)
    if first_workspace is None:
        raise IdentityError(403, "this user is not a member of any workspace")
    if len(rows) > 1:
        raise IdentityError(400, "this user belongs to several workspaces: choose one with the X-Workspace-Id header")
    return Identity(user_id=user_id, workspace_id=first_workspace)
