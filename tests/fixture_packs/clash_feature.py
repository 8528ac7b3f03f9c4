"""A pack that registers a feature slug the probe pack registers too."""

from packs.core import hookimpl
from packs.core.features import Feature
from tests.fixture_packs.probe import Write


@hookimpl
def register_features() -> list[Feature]:
    return [Feature(namespace="probes", name="things", tools=[Write])]
