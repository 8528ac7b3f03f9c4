"""``litestar workflows``: list, validate, run, resume and show workflow executions."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import click
import msgspec
from litestar import Litestar
from litestar.cli._utils import LitestarGroup

from app.cli.running import packflow_plugin, run_command
from app.workflow_owner import OwnerError, resolve_owner
from app.workflows import WorkflowRuntime, unknown_services, workflow_files
from packs.core import workflow as wf
from packs.core.audit import record_in_own_transaction
from packs.core.http.params import MAX_JSON_DEPTH, BadRequestBodyError, json_problems
from packs.core.workflow.json_values import same_json
from packs.core.workflow.model import utcnow
from packs.core.workflow.queue.worker import died_here


def _runtime(app: Litestar) -> WorkflowRuntime:
    runtime: WorkflowRuntime = app.state.workflows
    return runtime


def _echo_json(value: Any) -> None:
    click.echo(msgspec.json.encode(value).decode())


def _result_payload(result: wf.ExecutionResult) -> dict[str, Any]:
    return {
        "execution_id": result.execution_id,
        "status": str(result.status),
        "output": result.output,
        "halt": None if result.halt is None else {"data": result.halt.data, "resume_step": result.halt.resume_step},
        "error": result.error,
    }


def _finish(result: wf.ExecutionResult) -> None:
    """Print the result as JSON; exit 0 only when the execution completed or halted."""
    _echo_json(_result_payload(result))
    sys.exit(0 if result.status in (wf.Status.COMPLETED, wf.Status.HALTED) else 1)


async def _engine_for(runtime: WorkflowRuntime, execution_id: str) -> wf.Engine:
    """An engine for ``execution_id`` under the definition it started with; :class:`wf.ExecutionError` when
    there is no such execution or definition."""
    execution = await runtime.store.load(execution_id)
    if execution is None:
        raise wf.ExecutionError(f"no execution {execution_id}")
    try:
        definition = await runtime.catalog.for_execution(execution)
    except wf.ConfigError as error:
        raise wf.ExecutionError(str(error)) from None
    return wf.Engine(definition)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large for a JSON number (a double)")
    return number


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (JSON numbers are finite)")


def _json_option(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        decoded = json.loads(value, parse_float=_finite, parse_constant=_not_json)
        problems = json_problems(decoded)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not valid JSON: {error}", param_hint=name) from None
    except (RecursionError, BadRequestBodyError):
        raise click.BadParameter(f"nested deeper than {MAX_JSON_DEPTH} levels", param_hint=name) from None
    except ValueError as error:  # NaN, Infinity, 1e999: what the API refuses too
        raise click.BadParameter(f"not valid JSON: {error}", param_hint=name) from None
    if problems:
        listed = "; ".join(f"{path}: {problem}" for path, problem in problems.items())
        raise click.BadParameter(listed, param_hint=name)
    return decoded


@click.group(cls=LitestarGroup, name="workflows")
def workflows_group() -> None:
    """Durable workflows shipped by the enabled packs."""


@workflows_group.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")
def list_workflows(app: Litestar, as_json: bool) -> None:
    """Every workflow of the enabled packs: id, name, version, pack and file."""
    rows = [
        {
            "id": loaded.definition.id,
            "name": loaded.definition.name,
            "version": loaded.definition.version,
            "description": loaded.definition.description,
            "inputs": sorted(loaded.definition.inputs),
            "pack": loaded.pack,
            "path": str(loaded.path),
        }
        for loaded in sorted(_runtime(app).workflows.values(), key=lambda loaded: loaded.definition.id)
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['id']} {row['version']} - {row['name']} (pack {row['pack']}, {row['path']})")


@workflows_group.command(name="validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate_workflows(app: Litestar, paths: tuple[Path, ...]) -> None:
    """Check workflow files (or folders of them): every problem is listed; exit 1 when any is invalid."""
    services = _runtime(app).services
    invalid = 0
    for path in workflow_files(paths):
        try:
            definition = wf.load(path)
            problems = unknown_services(definition, services)
        except wf.ValidationError as error:
            problems = error.problems
        if problems:
            invalid += 1
            click.echo(f"{path}: invalid")
            for problem in problems:
                click.echo(f"  - {problem}")
        else:
            click.echo(f"{path}: ok ({definition.id})")
    sys.exit(1 if invalid else 0)


@workflows_group.command(name="run")
@click.argument("workflow_id")
@click.option("--input", "input_json", default="{}", help="The input as a JSON object.")
@click.option("--execution-id", default=None, help="An idempotency key: an existing execution is not run again.")
@click.option(
    "--workspace",
    default=None,
    help="The workspace it belongs to (id or name); default: the input's workspace_id, or the user's only one.",
)
@click.option("--user", default=None, help="The user who starts it (id or email); default: the input's user_id.")
def run_workflow(
    app: Litestar,
    workflow_id: str,
    input_json: str,
    execution_id: str | None,
    workspace: str | None,
    user: str | None,
) -> None:
    """Run WORKFLOW_ID and print its result as JSON (exit 0 when completed or halted).

    With --workspace and --user (or the input's workspace_id and user_id) the execution belongs to
    that workspace, so its members see, approve and retry it over HTTP; the user must be a member.
    """
    loaded = _runtime(app).workflows.get(workflow_id)
    if loaded is None:
        raise click.BadParameter(
            f"no workflow {workflow_id!r} (see 'packflow workflows list')", param_hint="WORKFLOW_ID"
        )
    payload = _json_option(input_json, "--input")
    if not isinstance(payload, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--input")
    if execution_id is not None:
        try:
            execution_id = str(uuid.UUID(execution_id))
        except ValueError:
            raise click.BadParameter(f"must be a UUID, got {execution_id!r}", param_hint="--execution-id") from None
    sessions = packflow_plugin(app).db.create_session_maker()

    async def run() -> wf.ExecutionResult:
        async with sessions() as session:
            try:
                owner = await resolve_owner(session, workspace, user, payload)
            except OwnerError as error:
                raise click.UsageError(str(error)) from None
        run_input = dict(payload)
        for key, value in (("workspace_id", owner.workspace_id), ("user_id", owner.user_id)):
            if value is not None and (key in loaded.definition.inputs or key in run_input):
                run_input[key] = str(value)
        workspace_id = None if owner.workspace_id is None else str(owner.workspace_id)
        existing = None if execution_id is None else await _runtime(app).store.load(execution_id)
        if existing is not None:
            _check_same_run(existing, workflow_id, run_input, workspace_id)
        result = await wf.Engine(loaded.definition).run(
            input=run_input,
            execution_id=execution_id,
            workspace_id=workspace_id,
            created_by_id=None if owner.user_id is None else str(owner.user_id),
        )
        if owner.workspace_id is not None and existing is None:  # a repeat started nothing
            await record_in_own_transaction(
                sessions,
                workspace_id=owner.workspace_id,
                actor_id=owner.user_id,
                action="start",
                target_id=result.execution_id,
                source="cli",
                details={"workflow_id": workflow_id},
            )
        return result

    _finish(run_command(app, run))


def _check_same_run(
    existing: wf.Execution, workflow_id: str, run_input: dict[str, Any], workspace_id: str | None
) -> None:
    """A usage error unless ``existing`` (the execution ``--execution-id`` names) is this very run: the same
    workflow, workspace and input, as a repeated ``Idempotency-Key`` must be over HTTP. Another workspace's
    execution is not shown, and another input is not silently ignored."""
    if existing.workspace_id != workspace_id:
        raise click.UsageError(
            f"execution {existing.id} exists and belongs to another workspace; give a new --execution-id"
        )
    if existing.workflow_id != workflow_id or not same_json(existing.input, run_input):
        what = "workflow" if existing.workflow_id != workflow_id else "input"
        raise click.UsageError(
            f"execution {existing.id} exists with another {what}; repeat the first run exactly, or give a new "
            "--execution-id"
        )


async def _audit_cli(app: Litestar, execution_id: str, action: str, details: dict[str, Any] | None = None) -> None:
    """Record an operator's action on an execution of a workspace in the audit log (by no user, from ``cli``), with
    the ``details`` the API records for the same action."""
    execution = await _runtime(app).store.load(execution_id)
    if execution is None or execution.workspace_id is None:
        return
    await record_in_own_transaction(
        packflow_plugin(app).db.create_session_maker(),
        workspace_id=execution.workspace_id,
        actor_id=None,
        action=action,
        target_id=execution_id,
        source="cli",
        details=details,
    )


@workflows_group.command(name="resume")
@click.argument("execution_id")
@click.option("--approve", is_flag=True, help="Approve the approval the execution waits for.")
@click.option("--reject", is_flag=True, help="Reject it.")
@click.option("--response", "response_json", default=None, help="A response for a halt, as JSON.")
@click.option("--comment", default=None, help="Why (kept with the operator's decision on an approval).")
def resume_workflow(
    app: Litestar, execution_id: str, approve: bool, reject: bool, response_json: str | None, comment: str | None
) -> None:
    """Resume a halted execution and print its result as JSON (exit 0 when completed or halted).

    An approval needs --approve or --reject: without one, the command is a usage error (exit 2) and
    the execution stays halted, unchanged. The decision is recorded as an operator's (no user), with
    --comment, and bypasses the approval's rules (approvers, quorum, requester)."""
    if approve and reject:  # two flags, not one --approve/--reject whose last spelling would win silently
        raise click.UsageError("give --approve or --reject, not both")
    approved = True if approve else False if reject else None
    response = _json_option(response_json, "--response")
    if comment is not None and approved is None:
        raise click.UsageError("--comment goes with --approve or --reject")
    runtime = _runtime(app)

    async def resume() -> wf.ExecutionResult:
        engine = await _engine_for(runtime, execution_id)
        try:
            # On an approval: the decision and its queued resume in one unit (or neither), then this process runs it.
            decided = (
                None
                if approved is None
                else await wf.decide_as_operator(runtime.store, execution_id, approved, comment, response)
            )
            if decided is not None:
                result = await _run_queued(runtime, execution_id)
            else:
                result = await engine.resume(execution_id, response=response, approved=approved)
        except wf.ResumeInputError as error:
            # Checked before anything is written: the execution still waits, as it was.
            flags = {"approved": "--approve or --reject", "response": "--response"}
            named = ", ".join(flags.get(name, name) for name in error.details)
            raise click.UsageError(f"{error} (give {named})") from None
        action = "resume" if approved is None else "approve" if approved else "reject"
        details = None
        if decided is not None:  # as the API records a decision
            settled = decided.verdict is not None
            details = {"comment": comment, "settled": settled, "step_id": decided.decision.step_id}
        await _audit_cli(app, execution_id, action, details)
        return result

    _finish(run_command(app, resume))


async def _run_queued(
    runtime: WorkflowRuntime, execution_id: str, *, refuse_leased: bool = False
) -> wf.ExecutionResult:
    """Run a queued execution on this process's worker (its lease, like any worker's); its result. With
    ``refuse_leased``, an execution another process holds the live lease of is an error, not its state."""
    result = await runtime.worker.process(execution_id)
    if result is not None:
        return result
    execution = await runtime.store.load(execution_id)  # a worker took it first, or it ended meanwhile
    if execution is None:
        raise wf.ExecutionError(f"no execution {execution_id}")
    expires = execution.lease_expires_at
    if refuse_leased and execution.lease_owner and expires is not None and expires > utcnow():
        raise wf.ExecutionError(
            f"execution {execution_id} is being run by {execution.lease_owner} (its lease runs until "
            f"{expires.isoformat()}): it goes on there; if that process died, wait for its lease to expire or "
            "pass --force"
        )
    return wf.ExecutionResult.of(execution)


@workflows_group.command(name="recover")
@click.argument("execution_id")
@click.option(
    "--force",
    is_flag=True,
    help="Take the execution over even though another machine's process holds its lease (that process died).",
)
def recover_workflow(app: Litestar, execution_id: str, force: bool) -> None:
    """Continue an execution whose process died, from its last checkpoint (exit 0 when completed or halted).

    A leased execution (a worker's, the app's) is claimed first, as a worker claims it. A lease held by a process
    of this machine that no longer runs is taken over at once; while another process holds it (it is running
    there), the command refuses (exit 1) and runs nothing, unless --force says that process died (a lease of
    another machine's). An execution running with no lease (an engine run by a script or `workflows run`) is
    continued as it is: nothing tells whether its process still runs."""
    runtime = _runtime(app)

    async def recover() -> wf.ExecutionResult:
        engine = await _engine_for(runtime, execution_id)  # an unknown execution, or one whose definition is gone
        execution = await runtime.store.load(execution_id)
        assert execution is not None
        owner = execution.lease_owner
        if owner is None and execution.status == wf.Status.RUNNING:
            return await engine.recover(execution_id)
        if owner is not None and owner != runtime.worker.owner and (force or died_here(owner)):
            await runtime.store.release(execution_id, owner)
        return await _run_queued(runtime, execution_id, refuse_leased=True)

    _finish(run_command(app, recover))


@workflows_group.command(name="show")
@click.argument("execution_id")
def show_execution(app: Litestar, execution_id: str) -> None:
    """Print an execution and its entries as JSON."""
    store = _runtime(app).store

    async def show() -> dict[str, Any]:
        execution = await store.load(execution_id)
        if execution is None:
            raise wf.ExecutionError(f"no execution {execution_id}")
        entries = await store.entries(execution_id)
        return {"execution": msgspec.to_builtins(execution), "entries": msgspec.to_builtins(entries)}

    _echo_json(run_command(app, show))


@workflows_group.command(name="worker")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Executions this worker runs at once (default: PACKFLOW_WORKER_CONCURRENCY, 10).",
)
def run_worker_command(app: Litestar, concurrency: int | None) -> None:
    """Run a worker: take queued executions from the SAQ queue until SIGINT/SIGTERM.

    Start any number of workers on any number of machines with the same PACKFLOW_DATABASE_URL (and
    PACKFLOW_QUEUE_URL); each also re-queues the executions of workers that died.
    """
    from app.queue import SAQAdapter, build_worker, run_worker

    settings = packflow_plugin(app).settings
    runtime = _runtime(app)
    if not isinstance(runtime.adapter, SAQAdapter):
        raise click.ClickException(
            "PACKFLOW_QUEUE is 'inline': executions run inside the app process. Set PACKFLOW_QUEUE=saq "
            "(and PACKFLOW_QUEUE_URL, or a PostgreSQL PACKFLOW_DATABASE_URL) to run them on workers."
        )
    adapter = runtime.adapter
    size = concurrency or settings.worker_concurrency

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        saq_worker = build_worker(
            adapter,
            runtime.worker,
            runtime.sweeper,
            size,
            settings.sweep_seconds,
            timer_sweep=runtime.timers,
            gc_tuning=settings.gc_tuning,
        )
        click.echo(f"workflow worker {runtime.worker.owner}: concurrency {size}, lease {settings.lease_seconds:g}s")
        await run_worker(saq_worker, stop)

    run_command(app, work)
