"""Accounts refuse what their columns cannot keep, on SQLite (which would keep it) and PostgreSQL (which raised)."""

from __future__ import annotations

import pytest

from packs.core.identity.accounts import AccountError, create_user
from tests.support.harness import Harness


@pytest.mark.parametrize(
    ("email", "workspace", "message"),
    [
        ("a" * 310 + "@example.com", "Acme", "the email has 322 characters; at most 320 are kept"),
        ("ada@" + "e" * 400 + ".com", "Acme", "at most 320 are kept"),
        ("ada@example.com", "W" * 256, "the workspace name has 256 characters; at most 255"),
        ("ada@example.com", "Ac\x01me", "must not hold control characters"),
        ("ada@example.com", "Ac\nme", "must not hold control characters"),
        ("ada@example.com", "Ac\u2028me", "must not hold control characters"),
        ("ada@example.com", "   ", "the workspace name must not be empty"),
        ("a\x01@example.com", "Acme", "is not an email address"),
        ("ada@exa\x7fmple.com", "Acme", "is not an email address"),
        ("ada\x00@example.com", "Acme", "is not an email address"),
    ],
)
async def test_what_a_column_cannot_keep_is_refused_and_nothing_is_written(
    harness: Harness, email: str, workspace: str, message: str
) -> None:
    async with harness.plugin.db.create_session_maker()() as session:
        with pytest.raises(AccountError, match=message):
            await create_user(session, email, workspace)
        await session.rollback()
    assert await harness.count("users") == 0
    assert await harness.count("workspaces") == 0


async def test_the_longest_names_are_kept(harness: Harness) -> None:
    async with harness.plugin.db.create_session_maker()() as session:
        issued = await create_user(session, "a" * 60 + "@" + "e" * 255 + ".com", "W" * 255)
        await session.commit()
    assert issued.workspace_id is not None
    assert await harness.count("workspaces", f"name = '{'W' * 255}'") == 1
