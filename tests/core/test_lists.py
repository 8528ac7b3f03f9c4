"""Lists that stay fast (docs/http-api.md, Lists): keyset pages by ``cursor`` beside ``page``, the indexes
of migration 0004, and an executions list that reads no whole ``ctx``; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, insert, text

from packs.core.items import encode_cursor
from packs.core.models import Item, WorkflowExecution
from tests.support.harness import Harness, auth, harness_for, make_settings
from tests.support.migrations import inspected
from tests.support.workflow_http import EXECUTIONS, PACKS

CONTACTS = "/api/v1/workspaces/contacts"
BASE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    async with harness_for(make_settings(database_url, packs=PACKS)) as built:
        yield built


def moments(count: int) -> list[datetime.datetime]:
    """Creation times with ties (three rows share each second), so that the id breaks them."""
    return [BASE + datetime.timedelta(seconds=index // 3) for index in range(count)]


async def add_contacts(harness: Harness, workspace_id: uuid.UUID, user_id: uuid.UUID, count: int) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "schema_slug": "contact",
            "tool_slug": "create",
            "data": {"first_name": f"Ada{index}", "last_name": "Lovelace", "email": f"a{index}@example.com"},
            "created_by_id": user_id,
            "workspace_id": workspace_id,
            "created_at": moment,
            "updated_at": moment,
            "deleted_at": BASE if index == 4 else None,
        }
        for index, moment in enumerate(moments(count))
    ]
    async with harness.plugin.db.create_session_maker()() as session:
        await session.execute(insert(Item), rows)
        await session.commit()


async def walk(client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    """Every page by cursor from the first; each page's meta checked."""
    pages: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = await client.get(url, params={**params, "cursor": cursor}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body["meta"]) == {"per_page", "cursor"}
        pages.append(body)
        if body["meta"]["cursor"] is None:
            return pages
        cursor = body["meta"]["cursor"]
        assert len(pages) < 100


async def test_contacts_by_cursor_walk_every_live_row_once_in_order(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    issued = await harness.user()
    assert issued.workspace_id is not None
    await add_contacts(harness, issued.workspace_id, issued.user_id, 14)  # one deleted: 13 live
    other = await harness.user("grace@example.com", "Other")
    assert other.workspace_id is not None
    await add_contacts(harness, other.workspace_id, other.user_id, 5)
    headers = auth(issued)
    by_page = (await client.get(CONTACTS, params={"per_page": "100"}, headers=headers)).json()
    assert by_page["meta"] == {"page": 1, "per_page": 100, "total": 13}  # a page answer as before
    expected = [item["id"] for item in by_page["data"]]

    pages = await walk(client, CONTACTS, headers, per_page="4")
    assert [len(page["data"]) for page in pages] == [4, 4, 4, 1]
    assert [item["id"] for page in pages for item in page["data"]] == expected
    stamps = [(item["created_at"], uuid.UUID(item["id"])) for page in pages for item in page["data"]]
    assert stamps == sorted(stamps, reverse=True)
    exact = await walk(client, CONTACTS, headers, per_page="13")  # a full last page says it is the last
    assert [len(page["data"]) for page in exact] == [13]

    searched = await walk(client, CONTACTS, headers, per_page="2", q="ADA1")
    assert sorted(item["data"]["first_name"] for page in searched for item in page["data"]) == [
        f"Ada{index}" for index in (1, 10, 11, 12, 13)
    ]


async def test_executions_by_cursor_walk_every_row_once_in_order(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    other = await harness.user("grace@example.com", "Other")
    rows = [
        {
            "id": uuid.uuid4(),
            "workflow_id": "http_echo" if index % 2 else "http_plain",
            "status": "failed" if index == 3 else "completed",
            "input": {"value": index},
            "ctx": {"big": "x" * 100, "_failure": {"step": "s", "details": {"a": "b"}}} if index == 3 else {},
            "error": "boom" if index == 3 else None,
            "created_at": moment,
            "updated_at": moment,
            "workspace_id": issued.workspace_id if index < 11 else other.workspace_id,
        }
        for index, moment in enumerate(moments(14))
    ]
    async with harness.plugin.db.create_session_maker()() as session:
        await session.execute(insert(WorkflowExecution), rows)
        await session.commit()
    headers = auth(issued)
    by_page = (await client.get(EXECUTIONS, params={"per_page": "100"}, headers=headers)).json()
    assert by_page["meta"] == {"page": 1, "per_page": 100, "total": 11}
    pages = await walk(client, EXECUTIONS, headers, per_page="3")
    assert [len(page["data"]) for page in pages] == [3, 3, 3, 2]
    assert [e for page in pages for e in page["data"]] == by_page["data"]
    failed = next(e for e in by_page["data"] if e["status"] == "failed")
    assert failed["error_details"] == {"a": "b"}  # the failure record, read without the whole ctx
    assert failed["input"] == {"value": 3}
    echoes = await walk(client, EXECUTIONS, headers, per_page="2", workflow_id="http_echo")
    assert [e["id"] for page in echoes for e in page["data"]] == [
        e["id"] for e in by_page["data"] if e["workflow_id"] == "http_echo"
    ]


async def test_the_executions_list_does_not_select_ctx(client: httpx.AsyncClient, harness: Harness) -> None:
    issued = await harness.user()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = harness.plugin.db.get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for params in ({}, {"cursor": ""}):
            assert (await client.get(EXECUTIONS, params=params, headers=auth(issued))).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    listed = [s for s in statements if "FROM workflow_executions" in s and "count(" not in s.lower()]
    assert len(listed) == 2
    for statement in listed:
        selected = statement.split("FROM workflow_executions")[0]
        # ctx only inside the one JSON path expression of the failure record, never as a column
        assert selected.count("workflow_executions.ctx") == selected.count(" AS ctx_key_") == 1
        assert "workflow_executions.input" in selected  # the list shows the input
    assert sum("count(" in s.lower() for s in statements if "workflow_executions" in s) == 1  # cursor: none


def cursor_of(value: Any) -> str:
    """A cursor made by hand: base64url (unpadded) of ``value`` as JSON."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# A cursor at the first moment of year 1, 14 hours east of UTC: before any UTC timestamp there is.
EARLIEST = cursor_of(["0001-01-01T00:00:00+14:00", str(uuid.uuid4())])


@pytest.mark.parametrize(
    ("url", "params", "named"),
    [
        (CONTACTS, {"cursor": "not-a-cursor"}, "cursor"),
        (CONTACTS, {"cursor": "WzEsMl0"}, "cursor"),  # base64url of [1,2]
        (CONTACTS, {"cursor": "", "page": "2"}, "page"),
        (EXECUTIONS, {"cursor": "%%%"}, "cursor"),
        (EXECUTIONS, {"cursor": encode_cursor(BASE, uuid.uuid4())[:-3]}, "cursor"),
        (EXECUTIONS, {"cursor": "", "page": "3"}, "page"),
        (CONTACTS, {"cursor": EARLIEST}, "cursor"),
        (EXECUTIONS, {"cursor": EARLIEST}, "cursor"),
        # A moment then something else than a string where the id goes: [moment, 123], [moment, ["a"]].
        (CONTACTS, {"cursor": cursor_of(["2020-01-01T00:00:00+00:00", 123])}, "cursor"),
        (EXECUTIONS, {"cursor": cursor_of(["2020-01-01T00:00:00+00:00", ["a"]])}, "cursor"),
        (EXECUTIONS, {"cursor": cursor_of([True, str(uuid.uuid4())])}, "cursor"),
    ],
)
async def test_a_bad_cursor_is_a_422_naming_it(
    client: httpx.AsyncClient, harness: Harness, url: str, params: dict[str, str], named: str
) -> None:
    response = await client.get(url, params=params, headers=auth(await harness.user()))
    assert response.status_code == 422
    assert set(response.json()["details"]) == {named}


@pytest.mark.parametrize("url", [CONTACTS, EXECUTIONS, "/api/v1/workflows/approvals"])
@pytest.mark.parametrize(("params", "named"), [({"page": "1.0"}, "page"), ({"per_page": "1e2"}, "per_page")])
async def test_a_page_number_that_is_not_a_whole_number_text_is_a_422(
    client: httpx.AsyncClient, harness: Harness, url: str, params: dict[str, str], named: str
) -> None:
    """msgspec's lenient conversion reads "1.0" and "1e2" as integers: a page number is digits, as documented."""
    response = await client.get(url, params=params, headers=auth(await harness.user()))
    assert response.status_code == 422, response.text
    assert set(response.json()["details"]) == {named}


async def test_migration_0004_creates_the_list_indexes(database_url: str) -> None:
    def indexes(inspector: Any) -> dict[str, dict[str, Any]]:
        return {
            table: {index["name"]: index for index in inspector.get_indexes(table)}
            for table in ("items", "workflow_executions")
        }

    found = await inspected(database_url, indexes)
    live = found["items"]["ix_items_live_workspace_schema_created"]
    assert live["column_names"] == ["workspace_id", "schema_slug", "created_at", "id"]
    where = live.get("dialect_options", {})
    assert "deleted_at IS NULL" in str(where.get("postgresql_where") or where.get("sqlite_where")).replace("(", "")
    executions = found["workflow_executions"]["ix_workflow_executions_workspace_created"]
    assert executions["column_names"] == ["workspace_id", "created_at", "id"]
    trigram = {name for name in found["items"] if name.startswith("ix_items_trgm_")}
    if database_url.startswith("postgresql"):
        assert trigram == {"ix_items_trgm_first_name", "ix_items_trgm_last_name", "ix_items_trgm_email"}
    else:
        assert trigram == set()


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_postgresql_serves_lists_and_search_from_the_indexes(harness: Harness, database_url: str) -> None:
    assert database_url.startswith("postgresql"), "EXPLAIN plans of PostgreSQL"
    issued = await harness.user()
    assert issued.workspace_id is not None
    await add_contacts(harness, issued.workspace_id, issued.user_id, 6000)
    workspace = str(issued.workspace_id)
    async with harness.plugin.db.get_engine().connect() as connection:
        # Half of them deleted, as in a workspace that has lived: with every row live the partial index and the
        # plain (workspace, schema, created_at) one cost the same and the planner took either.
        await connection.execute(
            text(
                "UPDATE items SET deleted_at = now() WHERE id IN "
                "(SELECT id FROM items WHERE workspace_id = :w ORDER BY id LIMIT 3000)"
            ),
            {"w": workspace},
        )
        await connection.commit()
        await connection.execute(text("ANALYZE items"))
        await connection.execute(text("SELECT gin_clean_pending_list('ix_items_trgm_email'::regclass)"))
        await connection.execute(text("SET enable_seqscan = off"))  # small table: ask which index serves it

        async def plan(sql: str) -> str:
            rows = (await connection.execute(text(f"EXPLAIN {sql}"), {"w": workspace})).all()
            return "\n".join(row[0] for row in rows)

        listing = await plan(
            "SELECT id FROM items WHERE workspace_id = :w AND schema_slug = 'contact' AND deleted_at IS NULL "
            "ORDER BY created_at DESC, id DESC LIMIT 25"
        )
        assert "ix_items_live_workspace_schema_created" in listing
        search = await plan(
            "SELECT id FROM items WHERE deleted_at IS NULL AND lower(data ->> 'email') LIKE '%a12%' AND :w = :w"
        )
        assert "ix_items_trgm_email" in search
