"""A pack adding a workflow step type (``shout``, with a config struct) and a workflow using it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from packs.core import hookimpl
from packs.core import workflow as wf


class ShoutConfig(msgspec.Struct, forbid_unknown_fields=True):
    """``shout`` steps: the text to upper-case and where to keep it."""

    text: str
    output: str | None = None


class Shout(wf.StepExecutor):
    """Upper-cases ``text`` (after resolving references)."""

    async def call(self, state: Any) -> Any:
        settings: ShoutConfig = self.settings
        loud = str(self.resolve(state, settings.text)).upper()
        self.store(state, settings.output, loud)
        return self.continue_(output=loud)


@hookimpl
def register_step_types() -> Mapping[str, Any]:
    return {"shout": (Shout, ShoutConfig)}


@hookimpl
def register_workflows() -> Sequence[Path]:
    return [Path(__file__).parent / "workflows" / "steps" / "shouting.yml"]
