"""A pack whose hook raises."""

from packs.core import hookimpl


@hookimpl
def register_features() -> list[object]:
    raise RuntimeError("the feature list could not be built")
