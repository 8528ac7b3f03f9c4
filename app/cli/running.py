"""What every operator command shares: the app's Packflow plugin, running its work on the database, ``--verbose``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from app.database import check_migrated, show_migration_log
from app.plugin import PackflowPlugin
from packs.core import workflow as wf
from packs.core.identity.accounts import AccountError

T = TypeVar("T")


def packflow_plugin(app: Litestar) -> PackflowPlugin:
    """The app's :class:`PackflowPlugin`: its settings, packs and database."""
    return app.plugins.get(PackflowPlugin)


def run_command(app: Litestar, work: Callable[[], Awaitable[T]]) -> T:
    """Migrate when configured, run ``work``, dispose of the engine; operator errors exit with status 1."""
    plugin = packflow_plugin(app)

    async def run() -> T:
        try:
            if plugin.settings.auto_migrate:
                await plugin.migrate()
            else:  # say so in one line when the database does not answer or is not migrated
                await check_migrated(plugin.db.get_engine())
            return await work()
        finally:
            await plugin.db.get_engine().dispose()

    try:
        return asyncio.run(run())
    except (AccountError, wf.ExecutionError) as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


def run_in_transaction(app: Litestar, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction (see :func:`run_command`)."""
    plugin = packflow_plugin(app)

    async def transaction() -> T:
        async with plugin.db.create_session_maker()() as session:
            result = await work(session)
            await session.commit()
            return result

    return run_command(app, transaction)


def _verbose(_: click.Context, __: click.Parameter, value: bool) -> None:
    if value:
        show_migration_log(True)


def add_verbose_option(command: click.Command) -> None:
    """Give every command under ``command`` a ``--verbose`` flag that shows Alembic's INFO lines (quiet by
    default); a command with a ``--verbose`` of its own keeps it."""
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            add_verbose_option(subcommand)
        return
    if any(isinstance(param, click.Option) and "--verbose" in param.opts for param in command.params):
        return
    command.params.append(
        click.Option(
            ["--verbose"],
            is_flag=True,
            expose_value=False,
            callback=_verbose,
            help="Show the migrations' log lines (Alembic's INFO messages).",
        )
    )
