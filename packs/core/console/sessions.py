"""Console sign-in sessions: an API token starts one, its cookie holds a random key, the database its SHA-256.

A session belongs to the API token that started it: a revoked (or deleted) token ends its sessions at
once, because every request looks the session up together with its token. Each session has its own
CSRF token, which every state-changing form of the console sends back (README, "The operations console").
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.identity.authenticate import IdentityError
from packs.core.identity.tokens import hash_token
from packs.core.models.console import ConsoleSession
from packs.core.models.identity import ApiToken, Membership, User, Workspace

COOKIE = "packflow_console"
"""The session cookie's name."""


@dataclass(frozen=True)
class WorkspaceChoice:
    """A workspace the signed-in user belongs to."""

    id: UUID
    name: str
    role: str


@dataclass(frozen=True)
class ConsoleUser:
    """Who is signed in, the workspace they act in and their session's CSRF token."""

    session_id: UUID
    user_id: UUID
    email: str
    workspace_id: UUID
    workspaces: tuple[WorkspaceChoice, ...]
    csrf_token: str

    @property
    def workspace(self) -> WorkspaceChoice:
        """The workspace acted in."""
        return next(choice for choice in self.workspaces if choice.id == self.workspace_id)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def workspaces_of(db: AsyncSession, user_id: UUID) -> tuple[WorkspaceChoice, ...]:
    """The user's workspaces by name."""
    statement = (
        select(Workspace.id, Workspace.name, Membership.role)
        .join(Membership, Membership.workspace_id == Workspace.id)
        .where(Membership.user_id == user_id)
        .order_by(Workspace.name, Workspace.id)
    )
    return tuple(WorkspaceChoice(id=id, name=name, role=role) for id, name, role in await db.execute(statement))


async def start_session(db: AsyncSession, token: str, hours: float) -> tuple[str, datetime.datetime]:
    """Start a session for the API ``token`` (committed): the cookie key and when it expires.

    :class:`IdentityError` (401) for an unknown or revoked token, 403 when its user is in no workspace.
    """
    token = token.strip()
    row = None
    if token:
        statement = select(ApiToken.id, ApiToken.user_id, ApiToken.revoked_at).where(
            ApiToken.token_hash == hash_token(token)
        )
        row = (await db.execute(statement)).first()
    if row is None:
        raise IdentityError(401, "This token is not valid: check it, or ask for a new one.")
    token_id, user_id, revoked_at = row
    if revoked_at is not None:
        raise IdentityError(401, "This token was revoked: ask for a new one.")
    workspaces = await workspaces_of(db, user_id)
    if not workspaces:
        raise IdentityError(403, "This user is not a member of any workspace.")
    key = secrets.token_urlsafe(32)
    expires_at = _now() + datetime.timedelta(hours=hours)
    await db.commit()  # the reads' transaction ends: on SQLite a write in it could not take the lock after another
    db.add(
        ConsoleSession(
            key_hash=_key_hash(key),
            token_id=token_id,
            user_id=user_id,
            workspace_id=workspaces[0].id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=_now(),
            expires_at=expires_at,
        )
    )
    await db.commit()
    return key, expires_at


async def session_user(db: AsyncSession, key: str | None) -> ConsoleUser | None:
    """The signed-in user of the cookie ``key``; ``None`` when there is no such live session (expired, signed
    out, or its token revoked), or when the user left the session's workspace and belongs to no other."""
    if not key:
        return None
    statement = (  # one query: the session, its user's email and each of their workspaces (a row each)
        select(ConsoleSession, User.email, Workspace.id, Workspace.name, Membership.role)
        .join(ApiToken, ApiToken.id == ConsoleSession.token_id)
        .join(User, User.id == ConsoleSession.user_id)
        .join(Membership, Membership.user_id == ConsoleSession.user_id)
        .join(Workspace, Workspace.id == Membership.workspace_id)
        .where(
            ConsoleSession.key_hash == _key_hash(key),
            ConsoleSession.expires_at > _now(),
            ApiToken.revoked_at.is_(None),
        )
        .order_by(Workspace.name, Workspace.id)
    )
    rows = (await db.execute(statement)).all()
    if not rows:  # no live session, or its user belongs to no workspace
        return None
    session, email = rows[0][0], rows[0][1]
    workspaces = tuple(WorkspaceChoice(id=id, name=name, role=role) for _, _, id, name, role in rows)
    workspace_id = session.workspace_id
    if workspace_id not in {choice.id for choice in workspaces}:
        workspace_id = workspaces[0].id
    return ConsoleUser(
        session_id=session.id,
        user_id=session.user_id,
        email=email,
        workspace_id=workspace_id,
        workspaces=workspaces,
        csrf_token=session.csrf_token,
    )


async def end_session(db: AsyncSession, key: str | None) -> None:
    """Sign out: delete the session of ``key`` (committed)."""
    if key:
        await db.execute(delete(ConsoleSession).where(ConsoleSession.key_hash == _key_hash(key)))
        await db.commit()


async def choose_workspace(db: AsyncSession, user: ConsoleUser, workspace_id: UUID) -> None:
    """Act in ``workspace_id`` from now on (committed); :class:`IdentityError` (403) unless the user is a member."""
    if workspace_id not in {choice.id for choice in user.workspaces}:
        raise IdentityError(403, f"You are not a member of workspace {workspace_id}.")
    await db.execute(
        update(ConsoleSession).where(ConsoleSession.id == user.session_id).values(workspace_id=workspace_id)
    )
    await db.commit()


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


__all__ = [
    "COOKIE",
    "ConsoleUser",
    "WorkspaceChoice",
    "choose_workspace",
    "csrf_matches",
    "emails_of",
    "end_session",
    "session_user",
    "start_session",
    "workspaces_of",
]


async def emails_of(db: AsyncSession, user_ids: Iterable[object]) -> dict[str, str]:
    """The email of each of these users, by user id text (for showing who started or decided something)."""
    ids = {UUID(str(value)) for value in user_ids if value}
    if not ids:
        return {}
    rows = await db.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {str(user_id): email for user_id, email in rows}
