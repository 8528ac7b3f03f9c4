"""The core pack's hook implementations: it serves its controllers like any pack serves routes."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.types import ControllerRouterHandler

from packs.core import hookimpl
from packs.core.http.me import MeController
from packs.core.http.resources import ResourcesController
from packs.core.http.workflows import WorkflowsController


@hookimpl
def register_routes() -> Sequence[ControllerRouterHandler]:
    """The ``/api/v1`` resources controller, the ``/api/v1/workflows`` controller and ``/api/v1/me``."""
    return [ResourcesController, WorkflowsController, MeController]
