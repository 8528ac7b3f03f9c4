"""The engine wired to the app (docs/workflow-language.md, section 1, ``wf.configure``): the SQL store, the
app's logger, the packs' tools and services.

At startup every workflow file of every enabled pack is loaded and validated, including that each
``call`` service is one the enabled packs provide; any problem stops startup, listing every
problem with its file.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig

from app.database import concurrent_runs
from app.packs import LoadedPacks, PackError
from app.settings import Settings
from packs.core import workflow as wf
from packs.core.db import bind_session, bind_session_factory
from packs.core.models import WorkflowDefinition, WorkflowEntry, WorkflowExecution
from packs.core.schedules.service import ScheduleService
from packs.core.tools import Tool
from packs.core.workflow.stores.sql import SQLStore
from packs.core.workflow_api.service import WorkflowService

WORKFLOW_SUFFIXES = (".yml", ".yaml")


@dataclass
class ServiceRegistry:
    """The callables workflows may ``call``: tools of enabled packs by dotted path, and registered services."""

    services: dict[str, Any] = field(default_factory=dict)

    def __call__(self, name: str) -> Any:
        """The service ``name``, or ``None`` (the engine's resolver protocol)."""
        return self.services.get(name)

    def names(self) -> list[str]:
        """Every name a workflow may call, sorted."""
        return sorted(self.services)


def tool_paths(tool: type[Tool]) -> list[str]:
    """The dotted paths of ``tool``: where it is defined and every parent package that re-exports it."""
    paths = [f"{tool.__module__}.{tool.__qualname__}"]
    parts = tool.__module__.split(".")
    for end in range(len(parts) - 1, 0, -1):
        package = sys.modules.get(".".join(parts[:end])) or importlib.import_module(".".join(parts[:end]))
        if getattr(package, tool.__name__, None) is tool:
            paths.append(f"{package.__name__}.{tool.__name__}")
    return paths


def build_service_registry(packs: LoadedPacks) -> ServiceRegistry:
    """Tools of the enabled packs' features and the services the enabled packs register; clashes stop startup."""
    registry = ServiceRegistry()
    owners: dict[str, str] = {}

    def add(name: str, target: Any, pack: str) -> None:
        if name in registry.services and registry.services[name] is not target:
            raise PackError(f"service {name!r} is registered by pack {owners[name]!r} and by pack {pack!r}")
        registry.services[name] = target
        owners[name] = pack

    for pack in packs.enabled:
        contributions = packs.contributions[pack]
        for feature in contributions.features:
            for tool in feature.tools:
                for path in tool_paths(tool):
                    add(path, tool, pack)
        for name, service in contributions.services.items():
            add(name, service, pack)
    return registry


def workflow_files(paths: Iterable[Path]) -> list[Path]:
    """The workflow files named by ``paths`` (files as given, folders searched for ``*.yml``/``*.yaml``)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in WORKFLOW_SUFFIXES))
        else:
            files.append(path)
    return files


@dataclass(frozen=True)
class LoadedWorkflow:
    """A workflow shipped by a pack."""

    definition: wf.WorkflowDef
    pack: str
    path: Path


def load_pack_workflows(packs: LoadedPacks, services: ServiceRegistry) -> dict[str, LoadedWorkflow]:
    """Load and validate every workflow of every enabled pack; :class:`PackError` listing every problem."""
    loaded: dict[str, LoadedWorkflow] = {}
    problems: list[str] = []
    for pack in packs.enabled:
        for path in workflow_files(packs.contributions[pack].workflows):
            try:
                definition = wf.load(path)
            except wf.ValidationError as error:
                problems.extend(f"{path} (pack {pack!r}): {problem}" for problem in error.problems)
                continue
            problems.extend(f"{path} (pack {pack!r}): {problem}" for problem in unknown_services(definition, services))
            if definition.id in loaded:
                other = loaded[definition.id]
                problems.append(
                    f"{path} (pack {pack!r}): workflow id {definition.id!r} is also used by {other.path} "
                    f"(pack {other.pack!r})"
                )
                continue
            loaded[definition.id] = LoadedWorkflow(definition, pack, path)
    if problems:
        listed = "\n".join(f"  - {problem}" for problem in problems)
        raise PackError(f"invalid workflows ({len(problems)} problem(s)):\n{listed}")
    return loaded


def unknown_services(definition: wf.WorkflowDef, services: ServiceRegistry) -> list[str]:
    """A problem for each ``call`` step whose service the enabled packs do not provide."""
    names = services.names()[:3]
    known = f"e.g. {', '.join(names)}" if names else "the enabled packs register none"
    return [
        f"step {step.id!r} field 'service': unknown service {step.settings.service!r}; a workflow may call the "
        f"tools and services of enabled packs ({known})"
        for step in definition.walk()
        if step.type == "call" and step.settings is not None and services(step.settings.service) is None
    ]


@dataclass
class WorkflowRuntime:
    """What the app keeps about workflows: definitions, services, store, queue, worker and recovery sweep."""

    workflows: Mapping[str, LoadedWorkflow]
    services: ServiceRegistry
    store: SQLStore
    catalog: wf.DefinitionCatalog
    worker: wf.Worker
    adapter: wf.QueueAdapter
    sweeper: wf.RecoverySweeper
    service: WorkflowService
    saq_plugin: Any = None
    """litestar-saq's plugin when ``PACKFLOW_QUEUE=saq``."""
    schedules: ScheduleService | None = None
    """The workspaces' schedules; their ticks fire as ``schedule`` timers on every process that fires timers."""
    timers: wf.TimerSweeper | None = None
    """The durable timers' sweep, run beside the recovery sweep (docs/workflow-language.md, Waits and durable
    timers)."""


_PACK_STEP_TYPES: dict[str, str] = {}
"""Step types the last configured app took from its packs, with the pack of each."""


def register_pack_step_types(packs: LoadedPacks) -> None:
    """Make the enabled packs' step types (and only theirs) known to the engine; clashes stop startup.

    The engine's step types are process-wide: those of packs enabled by an earlier app in this
    process are removed first, so that a workflow using a disabled pack's type is refused.
    """
    for type_name in _PACK_STEP_TYPES:
        wf.step_types.unregister(type_name)
    _PACK_STEP_TYPES.clear()
    for pack in packs.enabled:
        for type_name, executor in packs.contributions[pack].step_types.items():
            other = _PACK_STEP_TYPES.get(type_name)
            if other is not None:
                raise PackError(f"step type {type_name!r} is registered by pack {other!r} and by pack {pack!r}")
            if wf.step_types.get(type_name) is not None:
                raise PackError(f"pack {pack!r}: step type {type_name!r} is a built-in step type; choose another name")
            executor_class, config_struct = executor if isinstance(executor, tuple) else (executor, None)
            try:
                wf.register_step_type(type_name, executor_class, config_struct)
            except TypeError as error:
                raise PackError(f"pack {pack!r}: {error}") from None
            _PACK_STEP_TYPES[type_name] = pack


def configure_workflows(
    packs: LoadedPacks, db: SQLAlchemyAsyncConfig, logger: logging.Logger, settings: Settings | None = None
) -> WorkflowRuntime:
    """Point the engine at the SQL store, the logger and the packs' services; register the packs' workflows;
    build the queue (inline or SAQ), the worker and the recovery sweep."""
    settings = settings or Settings()
    register_pack_step_types(packs)
    services = build_service_registry(packs)
    workflows = load_pack_workflows(packs, services)
    store = SQLStore(
        db.create_session_maker(),
        WorkflowExecution,
        WorkflowEntry,
        bind_session=bind_session,
        bind_session_factory=bind_session_factory,
        definition_class=WorkflowDefinition,
        idle_scopes=concurrent_runs(settings),
    )
    wf.configure(store=store, service_resolver=services, logger=logger)
    wf.clear_registry()
    for loaded in workflows.values():
        wf.register(loaded.definition)
    definitions = {workflow_id: loaded.definition for workflow_id, loaded in workflows.items()}
    catalog = wf.DefinitionCatalog(store, definitions, logger)
    retry = wf.RetryPolicy(max_attempts=settings.max_attempts, backoff_seconds=settings.retry_backoff_seconds)
    worker = wf.Worker(
        store, catalog, service_resolver=services, lease_seconds=settings.lease_seconds, retry=retry, logger=logger
    )
    plugin = None
    adapter: wf.QueueAdapter
    if settings.queue == "saq":
        from app.queue import SAQAdapter, heartbeat_seconds, saq_plugin

        assert settings.queue_url is not None
        plugin = saq_plugin(settings.queue_url, settings.worker_concurrency, settings.queue_name)
        adapter = SAQAdapter(plugin, settings.queue_name, heartbeat_seconds(settings.lease_seconds))
        worker.requeue = lambda execution_id, delay: adapter.enqueue(execution_id, delay)
    else:
        adapter = wf.InlineAdapter(worker, settings.worker_concurrency, logger)
    timers = wf.TimerSweeper(
        store,
        lambda execution_id: adapter.enqueue(execution_id),
        resolution=settings.timer_resolution_seconds,
        retention=settings.timer_retention_seconds,
        logger=logger,
    )
    # SAQ delivers a job at each due time; in-process, the sweep wakes itself then.
    worker.timers_added = getattr(adapter, "schedule_timers", None) or timers.wake_at
    sweeper = wf.RecoverySweeper(
        store,
        adapter,
        retry=retry,
        interval=settings.sweep_seconds,
        stale_after=settings.requeue_pending_seconds,
        durable_queue=settings.queue == "saq",
        logger=logger,
    )
    service = WorkflowService(definitions, store, catalog, adapter, services)
    schedules = ScheduleService(service, timers_added=getattr(worker, "timers_added", None))
    schedules.register_firing()
    return WorkflowRuntime(
        workflows=workflows,
        services=services,
        store=store,
        catalog=catalog,
        worker=worker,
        adapter=adapter,
        sweeper=sweeper,
        service=service,
        saq_plugin=plugin,
        schedules=schedules,
        timers=timers,
    )
