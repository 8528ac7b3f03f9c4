"""Operator commands added to ``litestar`` (and ``packflow``): users, tokens, packs and workflows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from litestar import Litestar
from litestar.plugins import CLIPlugin

from app.cli.accounts import tokens_group, users_group
from app.cli.packs import packs_group
from app.cli.running import add_verbose_option, packflow_plugin
from app.cli.schedules import schedules_group
from app.cli.signals import signal_command
from app.cli.workflows import workflows_group
from app.database import DatabaseNotMigratedError, DatabaseUnreachableError, check_migrated, reachable_connection


class OperatorCommands(CLIPlugin):
    """The Litestar CLI plugin that adds the operator commands (:func:`register_commands`), and checks before
    ``run`` starts the server that the database answers."""

    def on_cli_init(self, cli: Any) -> None:
        """Add the operator commands to the ``litestar`` command line."""
        register_commands(cli)

    @contextmanager
    def server_lifespan(self, app: Litestar) -> Iterator[None]:
        """Before the server starts: a database that does not answer is one line and exit 1, as for every other
        command (the server's startup would fail with a page of tracebacks)."""
        plugin = packflow_plugin(app)
        engine = plugin.db.get_engine()

        async def check() -> None:
            try:
                if plugin.settings.auto_migrate:
                    async with reachable_connection(engine):
                        pass
                else:  # nothing migrates it: a database behind the code is one line too
                    await check_migrated(engine)
            finally:
                await engine.dispose()  # its connections belong to this event loop, not the server's

        try:
            asyncio.run(check())
        except (DatabaseUnreachableError, DatabaseNotMigratedError) as error:
            raise click.ClickException(str(error)) from None
        yield


def register_commands(cli: click.Group) -> None:
    """Attach the command groups to the ``litestar`` group, and ``--verbose`` to every command (advanced-alchemy's
    ``database`` group included, which its plugin may attach after this one)."""
    from advanced_alchemy.extensions.litestar.cli import database_group

    cli.add_command(users_group)
    cli.add_command(tokens_group)
    cli.add_command(packs_group)
    if "schedules" not in workflows_group.commands:
        workflows_group.add_command(schedules_group)
    workflows_group.add_command(signal_command)  # declared on the group in app.cli.signals; named for clarity
    cli.add_command(workflows_group)
    add_verbose_option(cli)
    add_verbose_option(database_group)


__all__ = ["OperatorCommands", "register_commands"]
