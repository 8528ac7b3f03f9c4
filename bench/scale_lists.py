"""List latency as the data grows (docs/http-api.md, Lists), on PostgreSQL, through the ASGI app.

A fresh database gets, by plain SQL (``INSERT ... SELECT generate_series``): 100k executions in one
workspace (each with a 2 KB ctx), a workspace of 100k contacts (1% of them named Smithson) and one of
10k. Requests go through the app (httpx ASGITransport), sequentially; each figure is the median of
``--requests`` requests, alternating the cases compared.

- executions and contacts, page 1 vs page 1000 (25 a page): by cursor when the app answers
  ``meta.cursor`` (page 1000's cursor computed from the row at its offset, so nobody walks 999
  pages), else by ``page`` (the code before cursors);
- contacts page 1 in the 10k vs the 100k workspace;
- contacts page 1 unfiltered vs ``q=smithson``, in the 100k workspace.

    python bench/scale_lists.py [--postgres URL] [--requests N]

Ends with ``RATIO <name> <small-case cost / large-case cost> goal <goal>`` lines (1.0 is flat).
:func:`measure` answers the same figures for ``bench/scale.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from bench_postgres import PostgresServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app import create_app
from app.database import upgrade_database
from app.plugin import PackflowPlugin
from app.settings import Settings
from packs.core.identity.accounts import create_user

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
EXECUTIONS = 100_000
BIG = 100_000
SMALL = 10_000
PER_PAGE = 25
DEEP_PAGE = 1000
GOALS = {
    "executions_page_1_over_1000": 0.67,
    "contacts_page_1_over_1000": 0.67,
    "contacts_10k_over_100k_workspace": 0.67,
    "contacts_unfiltered_over_search": 0.33,
}


def cursor_after(created_at: datetime.datetime, row_id: Any) -> str:
    """The list's cursor after a row (the format of ``packs.core.items.encode_cursor``; this bench also runs
    against the code before cursors, which has no such function)."""
    raw = json.dumps([created_at.astimezone(datetime.UTC).isoformat(), str(row_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


CONTACTS_SQL = """
INSERT INTO items (id, schema_slug, tool_slug, data, created_by_id, workspace_id, created_at, updated_at)
SELECT gen_random_uuid(), 'contact', 'create',
       jsonb_build_object(
           'first_name', 'Ada' || (g % 1000),
           'last_name', CASE WHEN g % 100 = 0 THEN 'Smithson' ELSE 'L' || md5(g::text) END,
           'email', 'user' || g || '@example.com',
           'company', 'Company ' || (g % 500)),
       :user, :workspace, now() - g * interval '1 second', now() - g * interval '1 second'
FROM generate_series(1, :count) AS g
"""
EXECUTIONS_SQL = """
INSERT INTO workflow_executions (id, workflow_id, status, input, ctx, created_at, updated_at, workspace_id, attempts)
SELECT gen_random_uuid(), 'bench_flow', 'completed', jsonb_build_object('n', g),
       jsonb_build_object('n', g, 'blob', repeat(md5(g::text), 64)),
       now() - g * interval '1 second', now() - g * interval '1 second', :workspace, 1
FROM generate_series(1, :count) AS g
"""


async def fill(url: str) -> tuple[dict[str, str], dict[str, str], str, str]:
    """Migrate and fill the database; the headers of the big and small workspaces' users and the cursors
    before page 1000 of executions and of contacts (big workspace)."""
    engine = create_async_engine(url)
    await upgrade_database(engine)
    app = create_app(Settings(database_url=url, packs=("contacts_service",), auto_migrate=False))
    plugin = app.plugins.get(PackflowPlugin)
    async with plugin.db.create_session_maker()() as session:
        big = await create_user(session, "big@example.com", "Big")
        small = await create_user(session, "small@example.com", "Small")
        await session.commit()
    await plugin.db.get_engine().dispose()
    started = time.perf_counter()
    async with engine.begin() as connection:
        for issued, count in ((big, BIG), (small, SMALL)):
            values = {"user": issued.user_id, "workspace": issued.workspace_id, "count": count}
            await connection.execute(text(CONTACTS_SQL), values)
        await connection.execute(text(EXECUTIONS_SQL), {"workspace": big.workspace_id, "count": EXECUTIONS})
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE items"))
        await connection.execute(text("VACUUM ANALYZE workflow_executions"))
        offset = (DEEP_PAGE - 1) * PER_PAGE - 1
        cursors = []
        live_contacts = " AND schema_slug = 'contact' AND deleted_at IS NULL"
        for table, extra in (("workflow_executions", ""), ("items", live_contacts)):
            row = (
                await connection.execute(
                    text(
                        f"SELECT created_at, id FROM {table} WHERE workspace_id = :w{extra} "
                        f"ORDER BY created_at DESC, id DESC OFFSET {offset} LIMIT 1"
                    ),
                    {"w": big.workspace_id},
                )
            ).one()
            cursors.append(cursor_after(row[0], row[1]))
    await engine.dispose()
    print(f"data: {EXECUTIONS} executions, {BIG} + {SMALL} contacts in {time.perf_counter() - started:.1f} s")
    return (
        {"Authorization": f"Bearer {big.token}"},
        {"Authorization": f"Bearer {small.token}"},
        cursors[0],
        cursors[1],
    )


Request_ = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


async def timed(client: httpx.AsyncClient, send: Request_) -> float:
    start = time.perf_counter()
    response = await send(client)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise RuntimeError(f"unexpected {response.status_code}: {response.text[:300]}")
    return elapsed


async def compare(client: httpx.AsyncClient, cases: dict[str, Request_], requests: int) -> dict[str, float]:
    """The median latency of each case, in ms, the cases alternating."""
    for send in cases.values():
        for _ in range(3):
            await timed(client, send)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(requests):
        for name, send in cases.items():
            times[name].append(await timed(client, send))
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def get(path: str, headers: dict[str, str], **params: str) -> Request_:
    async def send(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(path, params=params, headers=headers)

    return send


async def measure(postgres_url: str | None = None, requests: int = 30) -> list[tuple[str, float, float]]:
    """``(name, small-case cost / large-case cost, goal)`` for each curve, on a fresh database."""
    server = PostgresServer(postgres_url or DEFAULT_POSTGRES)
    try:
        url = await server.create("packflow_bench_lists")
        big, small, executions_cursor, contacts_cursor = await fill(url)
        app = create_app(Settings(database_url=url, packs=("contacts_service",), auto_migrate=False))
        executions, contacts = "/api/v1/workflows/executions", "/api/v1/workspaces/contacts"
        transport = httpx.ASGITransport(app=app)
        async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            probe = (await client.get(contacts, params={"cursor": ""}, headers=big)).json()["meta"]
            keyset = "cursor" in probe
            print(f"paging: {'by cursor (keyset)' if keyset else 'by page (the app answers no cursor)'}")
            first: dict[str, str] = {"cursor": ""} if keyset else {"page": "1"}

            def deep(cursor: str) -> dict[str, str]:
                return {"cursor": cursor} if keyset else {"page": str(DEEP_PAGE)}

            figures = await compare(
                client,
                {
                    "executions_page_1": get(executions, big, **first),
                    "executions_page_1000": get(executions, big, **deep(executions_cursor)),
                    "contacts_page_1": get(contacts, big, **first),
                    "contacts_page_1000": get(contacts, big, **deep(contacts_cursor)),
                    "contacts_10k_page_1": get(contacts, small, **first),
                    "contacts_search": get(contacts, big, q="smithson", **first),
                    "contacts_page_1_by_page": get(contacts, big, page="1"),
                    "executions_page_1_by_page": get(executions, big, page="1"),
                },
                requests,
            )
            found = (await client.get(contacts, params={"q": "smithson", "page": "1"}, headers=big)).json()
            assert found["meta"]["total"] == BIG // 100, found["meta"]
    finally:
        await server.drop_all()
    for name, value in figures.items():
        print(f"{name:28} {value:8.2f} ms")
    values = {
        "executions_page_1_over_1000": figures["executions_page_1"] / figures["executions_page_1000"],
        "contacts_page_1_over_1000": figures["contacts_page_1"] / figures["contacts_page_1000"],
        "contacts_10k_over_100k_workspace": figures["contacts_10k_page_1"] / figures["contacts_page_1"],
        "contacts_unfiltered_over_search": figures["contacts_page_1"] / figures["contacts_search"],
    }
    return [(name, value, GOALS[name]) for name, value in values.items()]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    ratios = await measure(args.postgres, args.requests)
    print(f"total {time.perf_counter() - started:.1f} s", file=sys.stderr)
    for name, value, goal in ratios:
        print(f"RATIO {name} {value:.2f} goal {goal}")


if __name__ == "__main__":
    asyncio.run(main())
