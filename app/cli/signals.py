"""``packflow workflows signal ID NAME --payload JSON``: send a signal to an execution (docs/http-api.md, Signals)."""

from __future__ import annotations

from typing import Any

import click
from litestar import Litestar

from app.cli.running import packflow_plugin, run_command
from app.cli.workflows import (
    _audit_cli,
    _echo_json,
    _json_option,
    _result_payload,
    _run_queued,
    _runtime,
    workflows_group,
)
from packs.core.workflow.names import signal_name_problem
from packs.core.workflow.signals import send_signal


@workflows_group.command(name="signal")
@click.argument("execution_id")
@click.argument("name")
@click.option("--payload", "payload_json", default=None, help="The signal's payload, as JSON (default: null).")
@click.option("--idempotency-key", default=None, help="A key that makes a repeated send a no-op.")
def signal_command(
    app: Litestar, execution_id: str, name: str, payload_json: str | None, idempotency_key: str | None
) -> None:
    """Send the signal NAME to an execution; a receive step waiting for it goes on. Print what happened as JSON.

    With the inline queue the woken execution runs here, in this command (its result is printed); with SAQ
    it is queued for the workers. An execution that has ended refuses signals (exit 1)."""
    if (problem := signal_name_problem(name)) is not None:  # a command's arguments hold no NUL
        raise click.BadParameter(f"a signal name {problem}", param_hint="NAME")
    payload = _json_option(payload_json, "--payload")
    runtime = _runtime(app)
    queued = packflow_plugin(app).settings.queue == "saq"

    async def send() -> dict[str, Any]:
        sent = await send_signal(runtime.store, execution_id, name, payload, idempotency_key)
        answer: dict[str, Any] = {"signal": sent.signal.as_dict(), "repeated": sent.repeated, "woke": sent.woke}
        if not sent.repeated:
            await _audit_cli(app, execution_id, "signal", {"signal": name, "woke": sent.woke})
        if sent.woke and queued:
            try:
                await runtime.adapter.enqueue(sent.execution_id)
            finally:  # its connection pool and listener, before the command's event loop closes
                disconnect = getattr(runtime.adapter, "disconnect", None)
                if disconnect is not None:
                    await disconnect()
        elif sent.woke:  # this process runs it, under its lease like any worker
            result = await _run_queued(runtime, sent.execution_id)
            answer["result"] = _result_payload(result)
        return answer

    _echo_json(run_command(app, send))
