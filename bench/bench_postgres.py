"""Fresh PostgreSQL databases for the benchmarks: created on the server of an admin URL, dropped at the end."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine


class PostgresServer:
    """Fresh databases on the server at the admin URL, all dropped by :meth:`drop_all`."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    async def create(self, prefix: str) -> str:
        """Create a database; its SQLAlchemy URL (same driver as the admin URL)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        async with self.admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    async def settle(self) -> None:
        """Write out what earlier measurements left in the server's buffers (``CHECKPOINT``), so that the next one
        does not share the disk with the checkpointer flushing them; skipped where the role may not."""
        try:
            async with self.admin.connect() as connection:
                await connection.execute(text("CHECKPOINT"))
        except DBAPIError as error:
            print(f"  (CHECKPOINT refused, the next curve may share the disk with the checkpointer: {error.orig})")

    async def drop_all(self) -> None:
        try:
            async with self.admin.connect() as connection:
                for name in self.names:
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await self.admin.dispose()


def plain_url(url: str) -> str:
    """``url`` with the plain ``postgresql`` scheme (what asyncpg and DBOS take)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
