"""The error every configuration or pack problem that keeps the app from starting derives from."""

from __future__ import annotations

import click


class StartupError(click.ClickException):
    """The app cannot start: bad settings, or packs that cannot be loaded.

    It is a :class:`click.ClickException`, so the ``litestar`` command line prints ``Error: <message>``
    and exits with status 1 instead of a traceback; code that builds the app catches it as usual.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
