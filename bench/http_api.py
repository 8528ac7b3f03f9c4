"""Throughput of the contacts endpoints through the resources controller vs hand-written handlers.

Both run in one app, on the same database, with the same session setup (advanced-alchemy's
``db_session``) and the same bearer authentication; the hand-written handlers do the same
validation, insert, select and serialization inline, without the features registry, parameter
handling and tool dispatch. Requests go through the ASGI interface (httpx), sequentially, in
alternating rounds so that both sides see the same machine state.

    python bench/http_api.py [--requests N] [--rounds R] [--postgres URL | --no-postgres]

Prints the figures and ends with ``RATIO <name> <value> goal <goal>`` lines (ours / hand-written).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec
from litestar import Litestar, Request, Response, get, post
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app import create_app
from app.database import upgrade_database
from app.plugin import PackflowPlugin
from app.settings import Settings
from packs.contacts_service.schemas import Contact
from packs.core.identity import authenticate
from packs.core.identity.accounts import create_user
from packs.core.items import live_items
from packs.core.models import Item
from packs.core.schemas import validate
from packs.core.serializers import ItemSerializer
from packs.core.tools import ValidationError

GOAL = 0.8
JSON = "application/json"


@post("/bench/contacts", include_in_schema=False)
async def hand_create(request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
    """The hand-written create: authenticate, validate, insert, serialize, commit (bench: tokens are valid)."""
    identity = await authenticate(
        db_session, request.headers.get("authorization"), request.headers.get("x-workspace-id")
    )
    body = msgspec.json.decode(await request.body())
    try:
        fields = validate(Contact, body.get("contact"), key="contact")
    except ValidationError as error:
        return Response({"error": error.message, "details": error.details}, status_code=422)
    item = Item(
        schema_slug="contact",
        tool_slug="create",
        data=msgspec.to_builtins(msgspec.convert(fields, Contact)),
        created_by_id=identity.user_id,
        workspace_id=identity.workspace_id,
    )
    db_session.add(item)
    await db_session.flush()
    payload = msgspec.json.encode({"data": ItemSerializer(item).to_dict(), "meta": {"created": True}})
    await db_session.commit()
    return Response(payload, status_code=201, media_type=JSON)


@get("/bench/contacts", include_in_schema=False)
async def hand_index(request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
    """The hand-written index: authenticate, count, select the newest 25, serialize."""
    identity = await authenticate(
        db_session, request.headers.get("authorization"), request.headers.get("x-workspace-id")
    )
    statement = live_items(identity.workspace_id, "contact")
    total = (await db_session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
    rows = (await db_session.execute(statement.order_by(Item.created_at.desc(), Item.id.desc()).limit(25))).scalars()
    payload = msgspec.json.encode(
        {
            "data": [ItemSerializer(item).to_dict() for item in rows],
            "meta": {"page": 1, "per_page": 25, "total": total},
        }
    )
    await db_session.commit()
    return Response(payload, status_code=200, media_type=JSON)


Request_ = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


async def measure(client: httpx.AsyncClient, send: Request_, count: int, expected: int) -> float:
    """Requests per second for ``count`` sequential requests."""
    start = time.perf_counter()
    for index in range(count):
        response = await send(client, index)
        if response.status_code != expected:
            raise RuntimeError(f"unexpected {response.status_code}: {response.text}")
    return count / (time.perf_counter() - start)


async def bench_database(label: str, url: str, requests: int, rounds: int) -> list[tuple[str, float]]:
    engine = create_async_engine(url)
    await upgrade_database(engine)
    async with engine.begin() as connection:
        for table in ("items", "api_tokens", "memberships", "workspaces", "users"):
            await connection.execute(text(f"DELETE FROM {table}"))
    await engine.dispose()

    app: Litestar = create_app(Settings(database_url=url, packs=("contacts_service",), auto_migrate=False))
    app.register(hand_create)
    app.register(hand_index)
    plugin = app.plugins.get(PackflowPlugin)
    async with plugin.db.create_session_maker()() as session:
        issued = await create_user(session, "bench@example.com", "Bench")
        await session.commit()
    headers = {"Authorization": f"Bearer {issued.token}"}

    def poster(path: str) -> Request_:
        async def send(client: httpx.AsyncClient, index: int) -> httpx.Response:
            contact = {"first_name": f"Ada{index}", "last_name": "Lovelace", "email": f"ada{index}@example.com"}
            return await client.post(path, json={"contact": contact}, headers=headers)

        return send

    def getter(path: str) -> Request_:
        async def send(client: httpx.AsyncClient, index: int) -> httpx.Response:
            return await client.get(path, headers=headers)

        return send

    results: dict[str, list[float]] = {"post_ours": [], "post_hand": [], "get_ours": [], "get_hand": []}
    async with app.lifespan(), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as client:
        await measure(client, poster("/api/v1/workspaces/contacts"), 50, 201)  # warm up both paths
        await measure(client, poster("/bench/contacts"), 50, 201)
        for _ in range(rounds):
            results["post_ours"].append(await measure(client, poster("/api/v1/workspaces/contacts"), requests, 201))
            results["post_hand"].append(await measure(client, poster("/bench/contacts"), requests, 201))
        for _ in range(rounds):
            results["get_ours"].append(await measure(client, getter("/api/v1/workspaces/contacts"), requests, 200))
            results["get_hand"].append(await measure(client, getter("/bench/contacts"), requests, 200))
    await plugin.db.get_engine().dispose()

    medians = {name: statistics.median(values) for name, values in results.items()}
    for method in ("post", "get"):
        print(
            f"{label:10} {method.upper():4} resources controller {medians[f'{method}_ours']:8.0f} req/s   "
            f"hand-written {medians[f'{method}_hand']:8.0f} req/s"
        )
    return [
        (f"{method}_contacts_{label}", medians[f"{method}_ours"] / medians[f"{method}_hand"])
        for method in ("post", "get")
    ]


async def postgres_url(admin_url: str) -> tuple[str, Callable[[], Awaitable[None]]] | None:
    """A fresh benchmark database on the server at ``admin_url`` and a function that drops it."""
    from sqlalchemy.engine import make_url

    name = f"packflow_bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # no server: report and measure SQLite only
        print(f"PostgreSQL not reachable at {admin_url}: {error}; measuring SQLite only", file=sys.stderr)
        await admin.dispose()
        return None

    async def drop() -> None:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="requests per round and side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    ratios: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        ratios += await bench_database("sqlite", f"sqlite+aiosqlite:///{folder}/bench.db", args.requests, args.rounds)
    if not args.no_postgres and (created := await postgres_url(args.postgres)) is not None:
        url, drop = created
        try:
            ratios += await bench_database("postgresql", url, args.requests, args.rounds)
        finally:
            await drop()
    for name, value in ratios:
        print(f"RATIO {name} {value:.3f} goal {GOAL}")


if __name__ == "__main__":
    asyncio.run(main())
