"""The console's executions list at a million executions, on PostgreSQL (``python bench/console.py --million``).

A fresh database gets, by plain SQL (one ``INSERT ... SELECT generate_series`` per workspace), 1,000,000
executions in one workspace and 10,000 in another, of five workflows, mostly completed (2% failed, 1%
running, 1% cancelled, 0.1% halted at an approval, 0.1% at a wait). Each figure is the best of
``--requests`` requests of ``GET /console/executions`` through the app, the cases alternating: page 1,
a deep page (by the cursor of the row half-way down), and the status, workflow and waiting-for filters,
in the big and the small workspace. Ends with ``RATIO`` lines: the small case's time over the large
case's (1.0 is flat), goal 0.67 each.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import httpx
from bench_postgres import PostgresServer
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app import create_app
from app.database import upgrade_database
from app.plugin import PackflowPlugin
from app.settings import Settings
from packs.core.identity.accounts import IssuedToken, create_user
from packs.core.items import encode_cursor
from packs.core.testing import started

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BIG, SMALL = 1_000_000, 10_000
GOAL = 0.67
EXECUTIONS_SQL = """
INSERT INTO workflow_executions
    (id, workflow_id, status, input, ctx, created_at, updated_at, workspace_id, attempts, halt_data)
SELECT gen_random_uuid(), 'flow_' || (g % 5),
       CASE WHEN g % 1000 IN (1, 2) THEN 'halted' WHEN g % 100 IN (3, 13) THEN 'failed'
            WHEN g % 100 = 4 THEN 'running' WHEN g % 100 = 5 THEN 'cancelled' ELSE 'completed' END,
       '{}', '{}', now() - g * interval '1 second', now() - g * interval '1 second' + interval '2 seconds',
       :workspace, 1,
       CASE WHEN g % 1000 = 1 THEN jsonb_build_object(
                'type', 'approval', 'step_id', 'approve', 'prompt', 'Ok?', 'quorum', 1,
                'requested_at', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
                'halt_id', gen_random_uuid()::text,
                'rule', jsonb_build_object('any_member', false, 'users', '[]'::jsonb, 'emails', '[]'::jsonb,
                                           'roles', jsonb_build_array('admin'), 'allow_requester', false,
                                           'requester_id', null))
            WHEN g % 1000 = 2 THEN jsonb_build_object('type', 'wait', 'due_at', '2030-01-01T00:00:00+00:00')
       END
FROM generate_series(1, :count) AS g
"""
Send = Callable[[], Awaitable[httpx.Response]]


async def fill(url: str) -> tuple[IssuedToken, IssuedToken, str]:
    """Migrate and fill; the big and small workspaces' users (admins: the approvals are theirs to decide) and
    the cursor of the big workspace's row half-way down."""
    engine = create_async_engine(url)
    await upgrade_database(engine)
    app = create_app(Settings(database_url=url, auto_migrate=False))
    plugin = app.plugins.get(PackflowPlugin)
    async with plugin.db.create_session_maker()() as session:
        big = await create_user(session, "big@example.com", "Big", "admin")
        small = await create_user(session, "small@example.com", "Small", "admin")
        await session.commit()
    await plugin.db.get_engine().dispose()
    began = time.perf_counter()
    async with engine.begin() as connection:
        for issued, count in ((big, BIG), (small, SMALL)):
            await connection.execute(text(EXECUTIONS_SQL), {"workspace": issued.workspace_id, "count": count})
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE workflow_executions"))
        row = (
            await connection.execute(
                text(
                    "SELECT created_at, id FROM workflow_executions WHERE workspace_id = :w "
                    "ORDER BY created_at DESC, id DESC OFFSET :o LIMIT 1"
                ),
                {"w": big.workspace_id, "o": BIG // 2},
            )
        ).one()
    await engine.dispose()
    print(f"data: {BIG} + {SMALL} executions in {time.perf_counter() - began:.1f} s")
    return big, small, encode_cursor(row[0], row[1])


async def signed_in_client(app: Litestar, token: str) -> httpx.AsyncClient:
    """A client of the app with a console session of ``token``."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench")
    form = await client.get("/console/sign-in")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = await client.post("/console/sign-in", data={"token": token, "csrf_token": csrf})
    assert signed.status_code == 303, signed.text
    return client


def page(client: httpx.AsyncClient, **params: str) -> Send:
    async def send() -> httpx.Response:
        return await client.get("/console/executions", params=params)

    return send


async def best(cases: dict[str, Send], requests: int) -> dict[str, float]:
    """The best time of each case, in ms, the cases alternating."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(requests + 2):
        for name, send in cases.items():
            began = time.perf_counter()
            answer = await send()
            elapsed = time.perf_counter() - began
            assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
            if round_ >= 2:  # two rounds warm up
                times[name].append(elapsed)
    return {name: min(values) * 1000 for name, values in times.items()}


async def run_scale(postgres_url: str | None, requests: int) -> None:
    """Fill a fresh database, measure, print the figures and the ``RATIO`` lines."""
    server = PostgresServer(postgres_url or DEFAULT_POSTGRES)
    try:
        url = await server.create("packflow_bench_console")
        big, small, deep = await fill(url)
        app = create_app(Settings(database_url=url, auto_migrate=False))
        async with started(app):
            big_client = await signed_in_client(app, big.token)
            small_client = await signed_in_client(app, small.token)
            filters = {"page_1": {}, "status": {"status": "failed"}, "workflow": {"workflow": "flow_3"}}
            filters["waiting"] = {"waiting_for": "approval"}
            cases: dict[str, Send] = {"1m_deep": page(big_client, cursor=deep)}
            for name, params in filters.items():
                cases[f"1m_{name}"] = page(big_client, **params)
                cases[f"10k_{name}"] = page(small_client, **params)
            figures = await best(cases, requests)
            await big_client.aclose()
            await small_client.aclose()
    finally:
        await server.drop_all()
    for name, value in figures.items():
        print(f"{name:14} {value:8.1f} ms")
    print(f"RATIO console_list_page_1_over_deep_1m {figures['1m_page_1'] / figures['1m_deep']:.2f} goal {GOAL}")
    for name in filters:
        print(f"RATIO console_list_{name}_10k_over_1m {figures[f'10k_{name}'] / figures[f'1m_{name}']:.2f} goal {GOAL}")
