"""``OPTIONS``: the methods a path answers, in an ``Allow`` header.

On a resources path, the methods that have a tool there (docs/http-api.md, "Routes": a path no tool answers
is 404 for every method, ``OPTIONS`` included). On the app's other routes, every method of the route:
:func:`complete_allow` answers for Litestar's own ``OPTIONS`` handler, which (Litestar 2, issue 4169) lists only
the methods of the handlers registered before it on a path several handlers share.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.enums import HttpMethod

from packs.core.features import FeatureRegistry
from packs.core.http.errors import error_response
from packs.core.tools.routing import HTTP_METHODS


def allowed_methods(
    features: FeatureRegistry, namespace: str, feature_name: str, item_id: str | None, action: str | None
) -> list[str]:
    """The methods (upper case, ``OPTIONS`` last) that a tool answers on this path; empty when none does."""
    feature = features.find(namespace, feature_name)
    if feature is None:
        return []
    scope = "member" if item_id is not None else "collection"
    methods = [method.upper() for method in HTTP_METHODS if feature.find_tool(method, scope, action) is not None]
    return [*methods, "OPTIONS"] if methods else []


def options_response(
    features: FeatureRegistry, namespace: str, feature_name: str, item_id: str | None, action: str | None
) -> Response[Any]:
    """204 with ``Allow`` listing the methods of the path; 404 when no tool answers it."""
    methods = allowed_methods(features, namespace, feature_name, item_id, action)
    if not methods:
        return error_response(404, {"error": f"no tool answers /{namespace}/{feature_name} here"})
    return Response(content=b"", status_code=204, headers={"Allow": ", ".join(methods)})


def complete_allow(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """The app's ``before_request``: for Litestar's generated ``OPTIONS`` handler, 204 with every method the path's
    handlers answer (sorted, as Litestar writes it); ``None`` (go on) for any other request."""
    handler = request.route_handler
    if request.method != HttpMethod.OPTIONS or handler.include_in_schema or handler.handler_name != "options_handler":
        return None
    methods = {"OPTIONS"}
    for path in handler.paths:
        methods.update(request.app.route_handler_method_map.get(path, {}))
    return Response(content=b"", status_code=204, headers={"Allow": ", ".join(sorted(methods))})
