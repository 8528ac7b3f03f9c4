"""The optional settings file (TOML): core settings under ``[packflow]``, each pack's under ``[packs.<name>]``.

Example ``packflow.toml``::

    [packflow]
    packs = ["contacts_service", "deals"]
    database_url = "sqlite+aiosqlite:///packflow.db"

    [packs.deals]
    currency = "EUR"
    approval_threshold = 5000

The file named by ``PACKFLOW_SETTINGS_FILE`` is read; without that variable, ``packflow.toml`` in
the current directory is read when it exists. ``PACKFLOW_*`` environment variables win over the file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SETTINGS_FILE = "packflow.toml"
SETTINGS_FILE_VARIABLE = "PACKFLOW_SETTINGS_FILE"


class SettingsFileError(ValueError):
    """The settings file cannot be read or holds something that is not a setting."""


@dataclass(frozen=True)
class SettingsFile:
    """What a settings file holds: the ``[packflow]`` table and the ``[packs.<name>]`` tables."""

    path: Path
    core: Mapping[str, Any] = field(default_factory=dict)
    packs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def core_label(self, key: str) -> str:
        """Where a core setting came from, for messages: ``packflow.toml [packflow] key``."""
        return f"{self.path} [packflow] {key}"

    def pack_label(self, pack: str) -> str:
        """Where a pack's section came from, for messages: ``packflow.toml [packs.name]``."""
        return f"{self.path} [packs.{pack}]"


def settings_file_path(environ: Mapping[str, str]) -> Path | None:
    """The settings file to read: ``PACKFLOW_SETTINGS_FILE``, else ``./packflow.toml`` when it exists."""
    named = environ.get(SETTINGS_FILE_VARIABLE, "").strip()
    if named:
        return Path(named)
    default = Path(DEFAULT_SETTINGS_FILE)
    return default if default.is_file() else None


def read_settings_file(path: Path, known_core_keys: frozenset[str]) -> SettingsFile:
    """Parse ``path``; :class:`SettingsFileError` naming the file and the key for anything unusable."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsFileError(f"{SETTINGS_FILE_VARIABLE}: settings file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsFileError(f"settings file {path} cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsFileError(f"settings file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"packflow", "packs"})
    if unknown:
        raise SettingsFileError(
            f"settings file {path}: unknown table or key {', '.join(repr(key) for key in unknown)}; "
            "core settings go under [packflow], a pack's under [packs.<pack name>]"
        )
    core = _table(document.get("packflow", {}), f"{path} [packflow]")
    unknown_core = sorted(set(core) - known_core_keys)
    if unknown_core:
        raise SettingsFileError(
            f"settings file {path} [packflow]: unknown setting {', '.join(repr(key) for key in unknown_core)}; "
            f"known settings: {', '.join(sorted(known_core_keys))}"
        )
    packs_table = _table(document.get("packs", {}), f"{path} [packs]")
    packs = {name: _table(section, f"{path} [packs.{name}]") for name, section in packs_table.items()}
    return SettingsFile(path=path, core=core, packs=packs)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsFileError(f"{where} must be a table, got {type(value).__name__} {value!r}")
    return value
