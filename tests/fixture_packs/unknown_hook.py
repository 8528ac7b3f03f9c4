"""A pack implementing a hook that does not exist."""

from packs.core import hookimpl


@hookimpl
def register_widgets() -> list[object]:
    return []
