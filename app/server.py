"""The Litestar application: settings, packs, database, routes and commands assembled in one place."""

from __future__ import annotations

import logging
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar
from litestar.openapi import OpenAPIConfig

from app.cli import OperatorCommands
from app.database import database_config
from app.logging_setup import logging_config
from app.packs import load_configured_packs
from app.plugin import PackflowPlugin
from app.settings import Settings
from app.version import platform_version
from app.workflows import configure_workflows
from packs.core.console import console_router, console_templates
from packs.core.http.openapi import openapi_render_plugins
from packs.core.http.openapi_ui import assets_router
from packs.core.http.options import complete_allow

logger = logging.getLogger("packflow")


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Packflow app from ``settings`` (default: the ``PACKFLOW_*`` environment)."""
    settings = Settings.from_env() if settings is None else settings
    packs = load_configured_packs(settings)
    db = database_config(settings)
    workflows = configure_workflows(packs, db, logger, settings)
    plugins: list[Any] = [
        SQLAlchemyPlugin(config=db),
        PackflowPlugin(settings, packs, db, workflows),
        OperatorCommands(),
    ]
    if workflows.saq_plugin is not None:
        plugins.append(workflows.saq_plugin)
    route_handlers: list[Any] = [assets_router()]
    if settings.console:
        route_handlers.append(console_router())
    return Litestar(
        route_handlers=route_handlers,
        template_config=console_templates() if settings.console else None,
        plugins=plugins,
        openapi_config=OpenAPIConfig(
            title="Packflow",
            version=platform_version(),
            description="Resources served by the enabled packs. Authenticate with `Authorization: Bearer <token>`.",
            path="/schema",
            render_plugins=openapi_render_plugins(packs.features, packs.schemas, workflows.service.definitions),
        ),
        request_max_body_size=settings.max_body_bytes,
        before_request=complete_allow,
        logging_config=logging_config(echo_sql=settings.echo_sql),
        debug=False,
    )
