"""The Litestar application: settings, packs, database and routes assembled in one place."""

from __future__ import annotations

import logging
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.exceptions import HTTPException
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.plugins import CLIPluginProtocol, InitPluginProtocol

from app.database import database_config, upgrade_database
from app.packs import LoadedPacks, load_configured_packs
from app.settings import Settings
from app.version import platform_version
from app.workflows import WorkflowRuntime, configure_workflows
from packs.core.http.edge import NulQueryMiddleware, send_request_id
from packs.core.http.errors import http_exception_handler, unhandled_exception_handler
from packs.core.http.openapi import openapi_render_plugins
from packs.core.http.openapi_ui import assets_router
from packs.core.workflow import InlineAdapter

logger = logging.getLogger("packflow")


class PackflowPlugin(InitPluginProtocol, CLIPluginProtocol):
    """Wires settings, packs and the database into the app, and adds the ``users``/``tokens``/``packs`` commands."""

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
        app_config.middleware.append(NulQueryMiddleware())
        app_config.state.update(
            {
                "settings": self.settings,
                "packs": self.packs,
                "workflows": self.workflows,
                "workflow_service": self.workflows.service,
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
        return app_config

    async def start_inline_queue(self, _: Litestar | None = None) -> None:
        """Run the recovery sweep in this process: executions left pending or running by an earlier run of
        the app are queued again at once, and those of a stuck in-process run once their lease expires."""
        self.workflows.sweeper.start()

    async def stop_inline_queue(self, _: Litestar | None = None) -> None:
        """Stop the sweep and the in-process executions (they resume from their checkpoints on next start)."""
        await self.workflows.sweeper.stop()
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

    def on_cli_init(self, cli: Any) -> None:
        """Add the operator commands to the ``litestar`` command line."""
        from app.cli import register_commands

        register_commands(cli)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Packflow app from ``settings`` (default: the ``PACKFLOW_*`` environment)."""
    settings = Settings.from_env() if settings is None else settings
    packs = load_configured_packs(settings)
    db = database_config(settings)
    workflows = configure_workflows(packs, db, logger, settings)
    plugins: list[Any] = [SQLAlchemyPlugin(config=db), PackflowPlugin(settings, packs, db, workflows)]
    if workflows.saq_plugin is not None:
        plugins.append(workflows.saq_plugin)
    return Litestar(
        route_handlers=[assets_router()],
        plugins=plugins,
        openapi_config=OpenAPIConfig(
            title="Packflow",
            version=platform_version(),
            description="Resources served by the enabled packs. Authenticate with `Authorization: Bearer <token>`.",
            path="/schema",
            render_plugins=openapi_render_plugins(packs.features, packs.schemas, workflows.service.definitions),
        ),
        request_max_body_size=settings.max_body_bytes,
        logging_config=LoggingConfig(
            root={"level": "INFO", "handlers": ["queue_listener"]},
            loggers={
                "packflow": {"level": "INFO", "propagate": True},
                "httpx": {"level": "WARNING", "propagate": True},
                "saq": {"level": "WARNING", "propagate": True},
            },
            log_exceptions="debug",
        ),
        debug=False,
    )
