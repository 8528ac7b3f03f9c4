"""The operations console: server-rendered pages at ``/console`` to see executions, start workflows, act on
failures and read the audit log, in the browser (README, "The operations console").

Pages are Jinja2 templates rendered by Litestar (``templates/``), with htmx and a few lines of JavaScript
for live updates (``static/``, shipped in the package: no CDN). Every read and action goes through the
same :class:`~packs.core.workflow_api.service.WorkflowService` as the API, in the signed-in user's
workspace. One module per page group: ``signin``, ``executions``, ``workflows``, ``approvals``, ``schedules``,
``audit_log``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from litestar import Router, get
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.di import Provide
from litestar.response import Redirect
from litestar.template import TemplateConfig

from packs.core.console.approvals import ApprovalsController
from packs.core.console.audit_log import AuditController
from packs.core.console.executions import ExecutionsController, SignalController
from packs.core.console.schedules import SchedulesController
from packs.core.console.signin import SignInController
from packs.core.console.timeline_rows import pretty_json
from packs.core.console.web import EXCEPTION_HANDLERS, PREFIX, signed_in
from packs.core.console.workflows import WorkflowsController
from packs.core.http.static_files import static_files_router

HERE = Path(str(files("packs.core.console")))


@get("/", include_in_schema=False)
async def home() -> Redirect:
    """``/console`` opens the executions."""
    return Redirect(f"{PREFIX}/executions")


def console_router() -> Router:
    """Every console route under ``/console``, its static files included."""
    static = static_files_router("/static", HERE / "static")
    return Router(
        path=PREFIX,
        route_handlers=[
            home,
            static,
            SignInController,
            ExecutionsController,
            SignalController,
            WorkflowsController,
            ApprovalsController,
            SchedulesController,
            AuditController,
        ],
        dependencies={"user": Provide(signed_in)},
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=False,
    )


def _add_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["pretty"] = pretty_json


def console_templates() -> TemplateConfig[JinjaTemplateEngine]:
    """The console's Jinja2 templates (autoescaped), with the ``pretty`` JSON filter."""
    return TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=_add_filters)


__all__ = ["console_router", "console_templates"]
