"""Operator commands added to ``litestar``: ``users``, ``tokens`` and ``packs``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from litestar import Litestar
from litestar.cli._utils import LitestarGroup
from sqlalchemy.ext.asyncio import AsyncSession

from app.database import show_migration_log
from app.packs import PackError, collect_contributions, installed_packs
from packs.core import workflow as wf
from packs.core.identity.accounts import AccountError, IssuedToken, create_token, create_user, revoke_token

T = TypeVar("T")


def register_commands(cli: click.Group) -> None:
    """Attach the command groups to the ``litestar`` group, and ``--verbose`` to every command (advanced-alchemy's
    ``database`` group included, which its plugin may attach after this one)."""
    from advanced_alchemy.extensions.litestar.cli import database_group

    from app.workflow_cli import workflows_group

    cli.add_command(users_group)
    cli.add_command(tokens_group)
    cli.add_command(packs_group)
    cli.add_command(workflows_group)
    add_verbose_option(cli)
    add_verbose_option(database_group)


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


def _run(app: Litestar, work: Callable[[], Awaitable[T]]) -> T:
    """Migrate when configured, run ``work``, dispose of the engine; operator errors exit with status 1."""
    from app.server import PackflowPlugin

    plugin = app.plugins.get(PackflowPlugin)

    async def run() -> T:
        try:
            if plugin.settings.auto_migrate:
                await plugin.migrate()
            return await work()
        finally:
            await plugin.db.get_engine().dispose()

    try:
        return asyncio.run(run())
    except (AccountError, wf.ExecutionError) as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


def _run_in_transaction(app: Litestar, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction (see :func:`_run`)."""
    from app.server import PackflowPlugin

    plugin = app.plugins.get(PackflowPlugin)

    async def transaction() -> T:
        async with plugin.db.create_session_maker()() as session:
            result = await work(session)
            await session.commit()
            return result

    return _run(app, transaction)


def _print_token(issued: IssuedToken) -> None:
    payload = {"user_id": str(issued.user_id), "token": issued.token}
    if issued.workspace_id is not None:
        payload["workspace_id"] = str(issued.workspace_id)
    click.echo(json.dumps(payload))


@click.group(cls=LitestarGroup, name="users")
def users_group() -> None:
    """Manage users."""


@users_group.command(name="create")
@click.option("--email", required=True, help="The user's email (created when missing).")
@click.option("--workspace", "workspace", required=True, help="Workspace name (created when missing).")
def users_create(app: Litestar, email: str, workspace: str) -> None:
    """Create a user, its workspace and membership when missing, and print a new token as JSON."""
    issued = _run_in_transaction(app, lambda session: create_user(session, email, workspace))
    _print_token(issued)


@click.group(cls=LitestarGroup, name="tokens")
def tokens_group() -> None:
    """Manage API tokens."""


@tokens_group.command(name="create")
@click.option("--email", required=True, help="The email of an existing user.")
def tokens_create(app: Litestar, email: str) -> None:
    """Add one more token for a user (earlier tokens stay valid) and print it as JSON."""
    issued = _run_in_transaction(app, lambda session: create_token(session, email))
    _print_token(issued)


@tokens_group.command(name="revoke")
@click.argument("token")
def tokens_revoke(app: Litestar, token: str) -> None:
    """Revoke TOKEN: requests made with it answer 401 from now on."""
    user_id = _run_in_transaction(app, lambda session: revoke_token(session, token))
    click.echo(json.dumps({"revoked": True, "user_id": str(user_id)}))


@click.group(cls=LitestarGroup, name="packs")
def packs_group() -> None:
    """Inspect installed packs."""


@packs_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def packs_list(app: Litestar, as_json: bool) -> None:
    """Every installed pack: whether it is enabled, its version, and what it registers."""
    from app.server import PackflowPlugin

    enabled = app.plugins.get(PackflowPlugin).packs.enabled
    installed = installed_packs()
    rows: list[dict[str, Any]] = []
    for name, pack in installed.items():
        row: dict[str, Any] = {
            "name": name,
            "enabled": name in enabled,
            "version": pack.version,
            "distribution": pack.distribution,
            "module": pack.module,
        }
        try:
            row["registers"] = collect_contributions([name], installed)[name].summary()
        except PackError as error:
            row["error"] = str(error)
        rows.append(row)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "enabled" if row["enabled"] else "disabled"
        click.echo(f"{row['name']} {row['version']} ({state}) - {row['module']} from {row['distribution']}")
        if "error" in row:
            click.echo(f"    error: {row['error']}")
            continue
        registered = {kind: names for kind, names in row["registers"].items() if names}
        if not registered:
            click.echo("    registers nothing")
        for kind, names in registered.items():
            click.echo(f"    {kind}: {', '.join(names)}")
