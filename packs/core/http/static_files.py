"""The static files the app serves itself (the console's scripts and styles, Swagger UI's assets), from the
package: a path that cannot name a file answers 404 (docs/http-api.md, Responses).

Litestar's local file system hands the requested path to ``stat``, which raises ``ValueError`` on a NUL
character (``/console/static/%00``) and so answered 500; here such a path is a file that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.file_system import BaseLocalFileSystem
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.types import FileInfo, PathType


class PackageFiles(BaseLocalFileSystem):
    """The local file system, where a path holding a NUL character names no file."""

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        """The file's information; ``FileNotFoundError`` (404) for a path holding a NUL."""
        if "\x00" in str(path):
            raise FileNotFoundError(path)
        return await super().info(path, **kwargs)


def static_files_router(path: str, directory: Path, name: str = "static") -> Router:
    """The route serving the files of ``directory`` under ``path`` (not in the OpenAPI document)."""
    return create_static_files_router(
        path=path, directories=[directory], file_system=PackageFiles(), include_in_schema=False, name=name
    )
