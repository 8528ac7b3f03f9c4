"""The Alembic migrations: the tables they create match the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from app.database import alembic_config, upgrade_database
from tests.support.databases import check_core_models
from tests.support.migrations import inspected


async def test_core_tables_columns_indexes_and_foreign_keys(database_url: str) -> None:
    def describe(inspector: Any) -> dict[str, Any]:
        return {
            table: {
                "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(table)},
                "indexes": {i["name"] for i in inspector.get_indexes(table)},
                "foreign_keys": {
                    (tuple(f["constrained_columns"]), f["referred_table"]) for f in inspector.get_foreign_keys(table)
                },
                "unique": {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)},
            }
            for table in ("users", "workspaces", "memberships", "api_tokens", "items")
        }

    tables = await inspected(database_url, describe)
    items = tables["items"]
    assert {
        name: items["columns"][name]
        for name in (
            "id",
            "schema_slug",
            "tool_slug",
            "data",
            "created_by_id",
            "workspace_id",
            "created_at",
            "updated_at",
            "deleted_at",
        )
    } == {
        "id": False,
        "schema_slug": False,
        "tool_slug": False,
        "data": False,
        "created_by_id": False,
        "workspace_id": False,
        "created_at": False,
        "updated_at": False,
        "deleted_at": True,
    }
    assert items["foreign_keys"] == {(("created_by_id",), "users"), (("workspace_id",), "workspaces")}
    assert "ix_items_workspace_schema_created" in items["indexes"]
    assert tables["memberships"]["unique"] == {("user_id", "workspace_id")}
    assert tables["api_tokens"]["unique"] == {("token_hash",)}
    assert tables["users"]["unique"] == {("email",)}
    assert "token" not in tables["api_tokens"]["columns"]


async def test_items_data_is_jsonb_on_postgresql(database_url: str) -> None:
    def data_type(inspector: Any) -> str:
        return next(str(c["type"]) for c in inspector.get_columns("items") if c["name"] == "data")

    kind = await inspected(database_url, data_type)
    assert kind == ("JSONB" if database_url.startswith("postgresql") else "JSON")


async def test_models_and_migrations_agree(database_url: str) -> None:
    await check_core_models(database_url)


async def test_downgrade_to_base_and_upgrade_again(tmp_path: Any) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    engine = create_async_engine(url)
    try:
        await upgrade_database(engine)
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "base"))
        assert await inspected(url, lambda i: sorted(i.get_table_names())) == ["alembic_version"]
        await upgrade_database(engine)
        assert "items" in await inspected(url, lambda i: i.get_table_names())
    finally:
        await engine.dispose()
