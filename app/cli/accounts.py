"""``litestar users`` and ``litestar tokens``: create users and their workspaces, issue and revoke API tokens."""

from __future__ import annotations

import json

import click
from litestar import Litestar
from litestar.cli._utils import LitestarGroup

from app.cli.running import run_in_transaction
from packs.core.identity.accounts import IssuedToken, create_token, create_user, revoke_token


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
@click.option(
    "--role",
    default=None,
    help="The membership's role (default for a new membership: member); for an existing membership, its new role.",
)
def users_create(app: Litestar, email: str, workspace: str, role: str | None) -> None:
    """Create a user, its workspace and membership when missing, and print a new token as JSON.

    --role gives the membership a role (what approvals' `role:<name>` approvers match); naming an
    existing membership with --role changes its role."""
    issued = run_in_transaction(app, lambda session: create_user(session, email, workspace, role))
    _print_token(issued)


@click.group(cls=LitestarGroup, name="tokens")
def tokens_group() -> None:
    """Manage API tokens."""


@tokens_group.command(name="create")
@click.option("--email", required=True, help="The email of an existing user.")
def tokens_create(app: Litestar, email: str) -> None:
    """Add one more token for a user (earlier tokens stay valid) and print it as JSON."""
    issued = run_in_transaction(app, lambda session: create_token(session, email))
    _print_token(issued)


@tokens_group.command(name="revoke")
@click.argument("token")
def tokens_revoke(app: Litestar, token: str) -> None:
    """Revoke TOKEN: requests made with it answer 401 from now on."""
    user_id = run_in_transaction(app, lambda session: revoke_token(session, token))
    click.echo(json.dumps({"revoked": True, "user_id": str(user_id)}))
