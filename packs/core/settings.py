"""Pack settings: each pack's own configuration section, validated by a msgspec Struct the pack declares.

A pack declares its settings by returning a Struct class from the ``register_settings`` hook. The
app validates the pack's section of the configuration (``[packs.<name>]`` in the settings file,
``PACKFLOW_<PACK>__<KEY>`` variables) against it when the packs load, and the pack reads the
result where it needs it::

    class DealsSettings(msgspec.Struct, frozen=True):
        currency: str = "USD"

    @hookimpl
    def register_settings():
        return DealsSettings

    def label(amount: int) -> str:
        return f"{pack_settings(DealsSettings).currency} {amount}"

A pack asks by its own Struct class, so it only ever sees its own section.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

SettingsT = TypeVar("SettingsT", bound=msgspec.Struct)


class PackSettingsRegistry:
    """The validated settings of the enabled packs, by the Struct class each pack declared."""

    def __init__(self) -> None:
        self._by_class: dict[type[msgspec.Struct], msgspec.Struct] = {}
        self._by_pack: dict[str, msgspec.Struct] = {}

    def replace(self, by_pack: dict[str, msgspec.Struct]) -> None:
        """Forget the previous packs' settings and keep ``by_pack`` (the app does this when it loads packs)."""
        self._by_pack = dict(by_pack)
        self._by_class = {type(value): value for value in by_pack.values()}

    def get(self, kind: type[SettingsT]) -> SettingsT:
        """The settings of the enabled pack that declared ``kind``; :class:`LookupError` when none did."""
        try:
            value = self._by_class[kind]
        except KeyError:
            raise LookupError(
                f"no enabled pack declares the settings {kind.__qualname__} (is the pack enabled, and does its "
                "register_settings hook return this class?)"
            ) from None
        assert isinstance(value, kind)
        return value

    def of(self, pack: str) -> msgspec.Struct | None:
        """The settings of ``pack`` (``None`` when it declares none or is not enabled)."""
        return self._by_pack.get(pack)


registry = PackSettingsRegistry()
"""The process's pack settings, filled when the app loads its packs."""


def pack_settings(kind: type[SettingsT]) -> SettingsT:
    """The validated settings of the pack that declared the Struct class ``kind``."""
    return registry.get(kind)


__all__ = ["PackSettingsRegistry", "pack_settings", "registry"]
