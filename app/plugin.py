"""The Litestar plugin that wires settings, packs, the database and the workflow runtime into the app."""

from __future__ import annotations

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.exceptions import HTTPException
from litestar.plugins import InitPluginProtocol

from app import collector
from app.database import upgrade_database
from app.packs import LoadedPacks
from app.settings import Settings
from app.workflows import WorkflowRuntime
from packs.core.http.edge import RequestTextMiddleware, send_request_id
from packs.core.http.errors import http_exception_handler, unhandled_exception_handler
from packs.core.workflow import InlineAdapter


class PackflowPlugin(InitPluginProtocol):
    """Wires settings, packs, the database and the workflow runtime into the app (the operator commands are
    :class:`app.cli.OperatorCommands`, a plugin of their own)."""

    def __init__(
        self, settings: Settings, packs: LoadedPacks, db: SQLAlchemyAsyncConfig, workflows: WorkflowRuntime
    ) -> None:
        self.settings = settings
        self.packs = packs
        self.db = db
        self.workflows = workflows

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Register pack routes, error handlers and the request edge (docs/http-api.md), app state and the
        startup migration."""
        app_config.route_handlers.extend(self.packs.routes)
        app_config.exception_handlers.setdefault(HTTPException, http_exception_handler)
        app_config.exception_handlers.setdefault(Exception, unhandled_exception_handler)
        app_config.before_send.append(send_request_id)
        app_config.middleware.append(RequestTextMiddleware())
        app_config.state.update(
            {
                "settings": self.settings,
                "packs": self.packs,
                "workflows": self.workflows,
                "workflow_service": self.workflows.service,
                "schedule_service": self.workflows.schedules,
                "production": self.settings.production,
            }
        )
        if self.settings.auto_migrate:
            app_config.on_startup.append(self.migrate)
        if self.settings.queue == "inline":
            app_config.on_startup.append(self.start_inline_queue)
            app_config.on_shutdown.append(self.stop_inline_queue)
        else:
            app_config.on_shutdown.append(self.disconnect_queue)
        if self.settings.gc_tuning:
            app_config.on_startup.append(self.settle_collector)
            app_config.on_shutdown.append(self.unsettle_collector)
        return app_config

    async def settle_collector(self, _: Litestar | None = None) -> None:
        """Startup is done: freeze what it built (``PACKFLOW_GC_TUNING``, :mod:`app.collector`)."""
        collector.settle()

    async def unsettle_collector(self, _: Litestar | None = None) -> None:
        """Undo :meth:`settle_collector`."""
        collector.unsettle()

    async def start_inline_queue(self, _: Litestar | None = None) -> None:
        """Run the recovery sweep in this process: executions left pending or running by an earlier run of
        the app are queued again at once, and those of a stuck in-process run once their lease expires; and
        the durable timers' sweep (those that came due while the app was down fire now)."""
        self.workflows.sweeper.start()
        if self.workflows.timers is not None:
            self.workflows.timers.start()

    async def stop_inline_queue(self, _: Litestar | None = None) -> None:
        """Stop the sweep and the in-process executions (they resume from their checkpoints on next start)."""
        await self.workflows.sweeper.stop()
        if self.workflows.timers is not None:
            await self.workflows.timers.stop()
        adapter = self.workflows.adapter
        if isinstance(adapter, InlineAdapter):
            await adapter.close()

    async def disconnect_queue(self, _: Litestar | None = None) -> None:
        """Close the SAQ queue's connections."""
        close = getattr(self.workflows.adapter, "disconnect", None)
        if close is not None:
            await close()

    async def migrate(self, _: Litestar | None = None) -> None:
        """Apply pending migrations (the ``PACKFLOW_AUTO_MIGRATE`` step)."""
        await upgrade_database(self.db.get_engine(), packs=self.packs)
