"""The core pack's hook implementations: it serves its controllers like any pack serves routes
(docs/writing-a-pack.md, "register_routes").

Two built-ins have a hook but do not go through it. The built-in step types belong to the engine,
which knows them without the app (``packs.core.workflow`` is used on its own, and a pack's
``register_step_types`` may not reuse their names). The core migrations are the main Alembic
history (``migrations/``, table ``alembic_version``), which every pack's ``register_migrations``
history runs after.
"""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import ControllerRouterHandler

from packs.core import hookimpl
from packs.core.http.me import MeController
from packs.core.http.resources import ResourcesController
from packs.core.workflow_api.approvals_controller import ApprovalsController
from packs.core.workflow_api.audit import AuditController
from packs.core.workflow_api.schedules import SchedulesController
from packs.core.workflow_api.signals import SignalsController
from packs.core.workflow_api.workflows_controller import WorkflowsController


@hookimpl
def register_routes() -> Sequence[ControllerRouterHandler]:
    """The ``/api/v1`` resources controller, the ``/api/v1/workflows`` controllers (executions, approvals,
    schedules, signals, the audit log) and ``/api/v1/me`` (docs/http-api.md)."""
    return [
        ResourcesController,
        WorkflowsController,
        ApprovalsController,
        SchedulesController,
        SignalsController,
        AuditController,
        MeController,
    ]
