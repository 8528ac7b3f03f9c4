"""Validating each enabled pack's settings section against the msgspec Struct it declares.

:mod:`app.packs` calls it while loading the packs (and turns :class:`PackSettingsError` into its
``PackError``); this module knows nothing of pack loading, so that imports go one way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import msgspec

logger = logging.getLogger("packflow")

_AT_FIELD = re.compile(r"^(?P<problem>.*?) - at `\$\.(?P<key>[^`.\[]+)[^`]*`$")
_MISSING_FIELD = re.compile(r"missing required field `(?P<key>[^`]+)`")


class PackSettingsError(ValueError):
    """A pack's settings section does not match the Struct it declares; the message says which pack, key and why."""


def setting_names(kind: type[msgspec.Struct]) -> list[str]:
    """The keys a pack's settings Struct accepts, in declaration order."""
    return [field.encode_name for field in msgspec.structs.fields(kind)]


def validate_pack_settings(
    enabled: tuple[str, ...],
    declared: Mapping[str, type[msgspec.Struct] | None],
    sections: Mapping[str, Mapping[str, Any]],
    sources: Mapping[str, Mapping[str, str]],
) -> dict[str, msgspec.Struct]:
    """The validated settings of every enabled pack that declares some, by pack name.

    ``declared`` is the Struct each pack's ``register_settings`` hook returned (``None``: no hook).
    Raises :class:`PackSettingsError` naming the pack, the key, where the value came from and the problem:
    a value of the wrong type or out of range, an unknown key, a missing required key, or a section
    for a pack that declares no settings. Sections of packs that are not enabled are ignored.
    """
    validated: dict[str, msgspec.Struct] = {}
    for pack in enabled:
        kind = declared[pack]
        section = dict(sections.get(pack, {}))
        where = sources.get(pack, {})
        if kind is None:
            if section:
                raise PackSettingsError(
                    f"pack {pack!r} declares no settings (no register_settings hook), but settings are given for it: "
                    + ", ".join(f"{key!r} ({where.get(key, '?')})" for key in section)
                )
            continue
        known = setting_names(kind)
        unknown = [key for key in section if key not in known]
        if unknown:
            raise PackSettingsError(
                f"pack {pack!r}: unknown setting {unknown[0]!r} ({where.get(unknown[0], '?')}); "
                f"known settings: {', '.join(known) or 'none'}"
            )
        try:
            validated[pack] = msgspec.convert(section, kind, strict=False)
        except msgspec.ValidationError as error:
            raise PackSettingsError(_describe(pack, str(error), where, kind)) from None
    ignored = sorted(set(sections) - set(enabled))
    if ignored:
        logger.info("settings of packs that are not enabled are ignored: %s", ", ".join(ignored))
    return validated


def _describe(pack: str, message: str, where: Mapping[str, str], kind: type[msgspec.Struct]) -> str:
    at_field = _AT_FIELD.match(message)
    if at_field:
        key = at_field["key"]
        return f"pack {pack!r}: setting {key!r} ({where.get(key, '?')}): {at_field['problem']}"
    missing = _MISSING_FIELD.search(message)
    if missing:
        key = missing["key"]
        return f"pack {pack!r}: setting {key!r} is required ({kind.__qualname__}) but not set"
    return f"pack {pack!r}: settings {kind.__qualname__}: {message}"
