"""``litestar packs``: the installed packs, whether each is enabled, and what it registers."""

from __future__ import annotations

import json
from typing import Any

import click
from litestar import Litestar
from litestar.cli._utils import LitestarGroup

from app.cli.running import packflow_plugin
from app.packs import PackError, collect_contributions, installed_packs


@click.group(cls=LitestarGroup, name="packs")
def packs_group() -> None:
    """Inspect installed packs."""


@packs_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def packs_list(app: Litestar, as_json: bool) -> None:
    """Every installed pack: whether it is enabled, its version, and what it registers."""
    enabled = packflow_plugin(app).packs.enabled
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
