"""Packflow's version, written once in ``pyproject.toml`` and read here from the installed distribution."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "packflow-platform"
"""The distribution that ships ``app``, ``packs`` and ``migrations`` (``packflow`` on PyPI is another project)."""

UNKNOWN = "0+unknown"
"""The version answered when the sources run without the distribution being installed."""


def platform_version() -> str:
    """The installed ``packflow-platform`` version (the OpenAPI document's ``info.version``), else :data:`UNKNOWN`."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return UNKNOWN
