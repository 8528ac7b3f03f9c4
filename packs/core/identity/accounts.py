"""Creating users, workspaces, memberships and tokens (what the ``users``/``tokens`` commands do)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from packs.core.identity.tokens import display_prefix, generate_token, hash_token
from packs.core.models.identity import ApiToken, Membership, User, Workspace
from packs.core.workflow.names import has_control_character
from packs.core.workflow.stores.sql import take_write_lock

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
"""A membership role: what ``role:<name>`` (or a bare name) in an approval's ``approvers`` matches."""
DEFAULT_ROLE = "member"


class AccountError(ValueError):
    """A command's input cannot be used (bad email, unknown user, unknown token)."""


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: the secret (shown once) and whom it belongs to."""

    user_id: UUID
    workspace_id: UUID | None
    token: str


MAX_EMAIL_LENGTH = 320
"""The longest email kept (``users.email``; 64 characters before the ``@`` and 255 after)."""
MAX_WORKSPACE_NAME_LENGTH = 255
"""The longest workspace name kept (``workspaces.name``)."""


def normalize_email(email: str) -> str:
    """``email`` trimmed and lower-cased; :class:`AccountError` when it is not ``local@domain.tld`` (a control
    character included) or is longer than :data:`MAX_EMAIL_LENGTH`."""
    normalized = email.strip().lower()
    if len(normalized) > MAX_EMAIL_LENGTH:
        raise AccountError(f"the email has {len(normalized):,} characters; at most {MAX_EMAIL_LENGTH} are kept")
    if not EMAIL_PATTERN.fullmatch(normalized) or has_control_character(normalized):
        raise AccountError(f"{email!r} is not an email address (expected local@domain.tld)")
    return normalized


def checked_workspace_name(name: str) -> str:
    """``name`` trimmed; :class:`AccountError` when it is empty, longer than :data:`MAX_WORKSPACE_NAME_LENGTH` or
    holds a control character (it is shown in the console and the command line)."""
    name = name.strip()
    if not name:
        raise AccountError("the workspace name must not be empty")
    if len(name) > MAX_WORKSPACE_NAME_LENGTH:
        raise AccountError(f"the workspace name has {len(name):,} characters; at most {MAX_WORKSPACE_NAME_LENGTH}")
    if has_control_character(name):
        raise AccountError("the workspace name must not hold control characters (line breaks, tabs, ...)")
    return name


async def issue_token(session: AsyncSession, user: User) -> str:
    """Add a new token for ``user`` and return its secret (the database keeps only the hash)."""
    token = generate_token()
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=display_prefix(token)))
    await session.flush()
    return token


def check_role(role: str) -> str:
    """``role`` trimmed; :class:`AccountError` unless it is 1-32 letters, digits, ``_``, ``.`` or ``-``."""
    trimmed = role.strip()
    if not ROLE_PATTERN.fullmatch(trimmed):
        raise AccountError(f"{role!r} is not a role name (1-32 letters, digits, '_', '.' or '-', e.g. admin)")
    return trimmed


async def create_user(session: AsyncSession, email: str, workspace_name: str, role: str | None = None) -> IssuedToken:
    """Find or create the user, the workspace named ``workspace_name`` and the membership between them.

    This is an operator's command: naming an existing workspace adds the user to it (the oldest
    one, should several share the name). A new membership gets ``role`` (default ``member``); an
    existing one gets ``role`` when it is given and keeps its role otherwise. Always issues a new token.
    """
    email = normalize_email(email)
    role = None if role is None else check_role(role)
    workspace_name = checked_workspace_name(workspace_name)
    await take_write_lock(session)  # it reads, then writes: on SQLite, no lock upgrade while others write
    user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
    if user is None:
        user = User(email=email)
        session.add(user)
    workspace = (
        await session.execute(
            select(Workspace).where(Workspace.name == workspace_name).order_by(Workspace.created_at).limit(1)
        )
    ).scalar_one_or_none()
    if workspace is None:
        workspace = Workspace(name=workspace_name)
        session.add(workspace)
    await session.flush()
    membership = (
        await session.execute(
            select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == workspace.id)
        )
    ).scalar_one_or_none()
    if membership is None:
        session.add(Membership(user_id=user.id, workspace_id=workspace.id, role=role or DEFAULT_ROLE))
    elif role is not None:
        membership.role = role
    token = await issue_token(session, user)
    return IssuedToken(user_id=user.id, workspace_id=workspace.id, token=token)


async def create_token(session: AsyncSession, email: str) -> IssuedToken:
    """Issue one more token for the existing user ``email``; earlier tokens stay valid."""
    normalized = normalize_email(email)
    await take_write_lock(session)
    user = (await session.execute(select(User).where(User.email == normalized))).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user with email {normalized!r}: create one with 'packflow users create'")
    token = await issue_token(session, user)
    return IssuedToken(user_id=user.id, workspace_id=None, token=token)


async def revoke_token(session: AsyncSession, token: str) -> UUID:
    """Revoke ``token``; answers the owner's user id. Unknown or already revoked: :class:`AccountError`."""
    await take_write_lock(session)
    row = (
        await session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token.strip())))
    ).scalar_one_or_none()
    if row is None:
        raise AccountError("no such token")
    if row.revoked_at is not None:
        raise AccountError("this token is already revoked")
    row.revoked_at = datetime.datetime.now(datetime.UTC)
    await session.flush()
    return row.user_id
