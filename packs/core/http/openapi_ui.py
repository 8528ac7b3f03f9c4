"""The interactive OpenAPI page, working offline: Swagger UI's JavaScript and CSS come from the installed
``swagger-ui-py`` package and are served by the app under ``/schema/assets``, never from a CDN.

See docs/http-api.md, "OpenAPI".
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router

from packs.core.http.static_files import static_files_router

ASSETS_PATH = "/schema/assets"
"""Where the Swagger UI files are served."""


def swagger_ui_directory() -> Path:
    """The folder of Swagger UI's files in the installed ``swagger-ui-py`` distribution (found without
    importing the package, which would pull in its web-framework adapters)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (pip install swagger-ui-py)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def assets_router() -> Router:
    """The static files route serving Swagger UI's JavaScript, CSS and icon."""
    return static_files_router(ASSETS_PATH, swagger_ui_directory(), name="openapi_assets")


class OfflineSwaggerUI(SwaggerRenderPlugin):
    """Litestar's Swagger UI page with every asset URL pointing at :data:`ASSETS_PATH`."""

    def __init__(self, path: str | list[str], **kwargs: Any) -> None:
        super().__init__(
            path=path,
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
            **kwargs,
        )
