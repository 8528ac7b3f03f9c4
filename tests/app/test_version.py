"""Packflow's version is written once, in ``pyproject.toml``, and read from the installed distribution's metadata."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from app import create_app, version
from tests.support.harness import http_client, make_settings


async def openapi_version(database_url: str) -> str:
    """``info.version`` of the OpenAPI document a new app serves."""
    async with http_client(create_app(make_settings(database_url))) as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    served: str = response.json()["info"]["version"]
    return served


async def test_the_openapi_document_has_the_distributions_version(sqlite_database_url: str, repo_root: Path) -> None:
    written = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert metadata.version("packflow-platform") == written
    assert await openapi_version(sqlite_database_url) == written


async def test_the_openapi_version_follows_the_metadata(
    sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = metadata.version

    def installed(name: str) -> str:
        return "7.8.9" if name == "packflow-platform" else real(name)

    monkeypatch.setattr(metadata, "version", installed)
    assert await openapi_version(sqlite_database_url) == "7.8.9"


def test_the_sources_without_the_distribution_say_their_version_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert version.platform_version() == "0+unknown"
