"""On SQLite, requests and operator commands that read and then write take the write lock at their BEGIN: while
another connection writes they wait for it instead of failing with 'database is locked'
(packs/core/workflow/stores/sql/sqlite.py, take_write_lock).

The other writer is a plain ``sqlite3`` connection holding the lock for a few seconds
(tests/support/sqlite_writer.py); without the fix the request's read takes a snapshot beside it and its write
is refused at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from packs.core.identity.accounts import create_token, create_user, revoke_token
from tests.support.databases import migrate, sqlite_url
from tests.support.harness import Harness, auth, harness_for, http_client, make_settings
from tests.support.sqlite_writer import other_writer

CONTACTS = "/api/v1/workspaces/contacts"
SOMEONE_ELSE = "UPDATE workspaces SET name = name WHERE name = 'Elsewhere'"
"""The other writer's change (to no row the test reads: what matters is the lock and the commit)."""


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """A migrated SQLite file of this test's own: the session's shared one may hold other tests' executions, which
    the app would recover and run, holding the write lock this test measures."""
    url = sqlite_url(tmp_path)
    migrate(url)
    return url


@pytest.fixture
async def harness(sqlite_database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(sqlite_database_url)) as built:
        yield built


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(harness.app) as test_client:
        yield test_client


async def test_a_tool_that_reads_then_writes_waits_for_another_writer(
    client: httpx.AsyncClient, harness: Harness, sqlite_database_url: str
) -> None:
    """PUT of a contact: the tool reads the item, then updates it."""
    issued = await harness.user()
    created = await client.post(
        CONTACTS,
        json={"contact": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}},
        headers=auth(issued),
    )
    assert created.status_code == 201, created.text
    contact_id = created.json()["data"]["id"]
    async with other_writer(sqlite_database_url, SOMEONE_ELSE) as writer:
        updated = await client.put(
            f"{CONTACTS}/{contact_id}",
            json={"contact": {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"}},
            headers=auth(issued),
        )
        assert writer.committed.is_set()
    assert updated.status_code == 200, updated.text
    shown = await client.get(f"{CONTACTS}/{contact_id}", headers=auth(issued))
    assert "Grace" in shown.text, shown.text


async def test_a_read_request_does_not_wait_for_another_writer(
    client: httpx.AsyncClient, harness: Harness, sqlite_database_url: str
) -> None:
    issued = await harness.user()
    async with other_writer(sqlite_database_url, SOMEONE_ELSE) as writer:
        listed = await client.get(CONTACTS, headers=auth(issued))
        assert not writer.committed.is_set()
    assert listed.status_code == 200, listed.text


async def test_the_account_commands_wait_for_another_writer(harness: Harness, sqlite_database_url: str) -> None:
    """Creating a user, a token and revoking one each read, then write (the operator's commands, while the
    app runs)."""
    session_maker = harness.plugin.db.create_session_maker()
    async with other_writer(sqlite_database_url, SOMEONE_ELSE) as writer:
        async with session_maker() as session:
            issued = await create_user(session, "ada@example.com", "Acme")
            await session.commit()
        assert writer.committed.is_set()
    async with other_writer(sqlite_database_url, SOMEONE_ELSE), session_maker() as session:
        second = await create_token(session, "ada@example.com")
        await session.commit()
    async with other_writer(sqlite_database_url, SOMEONE_ELSE), session_maker() as session:
        assert await revoke_token(session, second.token) == issued.user_id
        await session.commit()
