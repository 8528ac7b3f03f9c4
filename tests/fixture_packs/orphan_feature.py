"""A pack whose feature names a schema that no enabled pack registers."""

from packs.core import hookimpl
from packs.core.features import Feature
from tests.fixture_packs.probe import Write


@hookimpl
def register_features() -> list[Feature]:
    return [Feature(namespace="orphans", name="things", schema="nowhere", tools=[Write])]
