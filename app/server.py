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
from app.packs import LoadedPacks, load_packs
from app.settings import Settings
from app.workflows import WorkflowRuntime, configure_workflows
from packs.core.http.errors import http_exception_handler
from packs.core.http.openapi import openapi_render_plugins

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
        """Register pack routes, error handlers, app state and the startup migration."""
        app_config.route_handlers.extend(self.packs.routes)
        app_config.exception_handlers.setdefault(HTTPException, http_exception_handler)
        app_config.state.update(
            {
                "settings": self.settings,
                "packs": self.packs,
                "workflows": self.workflows,
                "production": self.settings.production,
            }
        )
        if self.settings.auto_migrate:
            app_config.on_startup.append(self.migrate)
        return app_config

    async def migrate(self, _: Litestar | None = None) -> None:
        """Apply pending migrations (the ``PACKFLOW_AUTO_MIGRATE`` step)."""
        await upgrade_database(self.db.get_engine())

    def on_cli_init(self, cli: Any) -> None:
        """Add the operator commands to the ``litestar`` command line."""
        from app.cli import register_commands

        register_commands(cli)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Packflow app from ``settings`` (default: the ``PACKFLOW_*`` environment)."""
    settings = Settings.from_env() if settings is None else settings
    packs = load_packs(settings.packs)
    db = database_config(settings)
    workflows = configure_workflows(packs, db, logger)
    return Litestar(
        plugins=[SQLAlchemyPlugin(config=db), PackflowPlugin(settings, packs, db, workflows)],
        openapi_config=OpenAPIConfig(
            title="Packflow",
            version="0.1.0",
            description="Resources served by the enabled packs. Authenticate with `Authorization: Bearer <token>`.",
            path="/schema",
            render_plugins=openapi_render_plugins(packs.features, packs.schemas),
        ),
        request_max_body_size=settings.max_body_bytes,
        logging_config=LoggingConfig(
            root={"level": "INFO", "handlers": ["queue_listener"]},
            loggers={
                "packflow": {"level": "INFO", "propagate": True},
                "httpx": {"level": "WARNING", "propagate": True},
            },
            log_exceptions="debug",
        ),
        debug=False,
    )
