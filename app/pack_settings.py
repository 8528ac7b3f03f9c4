"""Validating each enabled pack's settings section against the msgspec Struct it declares."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from app.packs import Contributions, PackError, setting_names

logger = logging.getLogger("packflow")

_AT_FIELD = re.compile(r"^(?P<problem>.*?) - at `\$\.(?P<key>[^`.\[]+)[^`]*`$")
_MISSING_FIELD = re.compile(r"missing required field `(?P<key>[^`]+)`")


def validate_pack_settings(
    enabled: tuple[str, ...],
    contributions: Mapping[str, Contributions],
    sections: Mapping[str, Mapping[str, Any]],
    sources: Mapping[str, Mapping[str, str]],
) -> dict[str, msgspec.Struct]:
    """The validated settings of every enabled pack that declares some, by pack name.

    Raises :class:`PackError` naming the pack, the key, where the value came from and the problem:
    a value of the wrong type or out of range, an unknown key, a missing required key, or a section
    for a pack that declares no settings. Sections of packs that are not enabled are ignored.
    """
    validated: dict[str, msgspec.Struct] = {}
    for pack in enabled:
        kind = contributions[pack].settings
        section = dict(sections.get(pack, {}))
        where = sources.get(pack, {})
        if kind is None:
            if section:
                raise PackError(
                    f"pack {pack!r} declares no settings (no register_settings hook), but settings are given for it: "
                    + ", ".join(f"{key!r} ({where.get(key, '?')})" for key in section)
                )
            continue
        known = setting_names(kind)
        unknown = [key for key in section if key not in known]
        if unknown:
            raise PackError(
                f"pack {pack!r}: unknown setting {unknown[0]!r} ({where.get(unknown[0], '?')}); "
                f"known settings: {', '.join(known) or 'none'}"
            )
        try:
            validated[pack] = msgspec.convert(section, kind, strict=False)
        except msgspec.ValidationError as error:
            raise PackError(_describe(pack, str(error), where, kind)) from None
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
