"""How the app logs: Litestar's queue listener in front of a handler that writes to the current ``sys.stderr``.

Litestar's default console handler binds ``sys.stderr`` when logging is configured. Anything that swaps
``sys.stderr`` afterwards (a test runner capturing output, a process manager, a notebook) then leaves the
listener thread writing to a stream that may be closed, and every record ends in ``--- Logging error ---``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from litestar.logging import LoggingConfig

__all__ = ["CurrentStderrHandler", "logging_config"]


class CurrentStderrHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes each record to whatever ``sys.stderr`` is when the record is emitted."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` to the current ``sys.stderr``."""
        self.stream = sys.stderr
        super().emit(record)


def _handlers() -> dict[str, dict[str, Any]]:
    console: dict[str, Any] = {"class": f"{__name__}.CurrentStderrHandler", "level": "DEBUG"}
    if sys.version_info >= (3, 12):
        # Litestar's default here is the standard QueueHandler whose listener feeds "console", which formats.
        return {"console": {**console, "formatter": "standard"}}
    # Before 3.12 Litestar's queue handler formats each record itself: "console" writes it as it comes.
    queue_listener = {
        "class": "litestar.logging.standard.QueueListenerHandler",
        "level": "DEBUG",
        "formatter": "standard",
        "handlers": ["cfg://handlers.console"],
    }
    return {"console": console, "queue_listener": queue_listener}


def logging_config(*, echo_sql: bool = False) -> LoggingConfig:
    """The app's logging: ``packflow`` at INFO; ``httpx`` and ``saq`` at WARNING; through a queue listener.

    ``echo_sql`` (``PACKFLOW_ECHO_SQL``): SQLAlchemy's statements at INFO, through the same handler. The
    engine's own ``echo`` is not used: it adds a handler of its own, and each statement was logged twice.
    """
    return LoggingConfig(
        handlers=_handlers(),
        root={"level": "INFO", "handlers": ["queue_listener"]},
        loggers={
            "packflow": {"level": "INFO", "propagate": True},
            "httpx": {"level": "WARNING", "propagate": True},
            "saq": {"level": "WARNING", "propagate": True},
            "sqlalchemy.engine": {"level": "INFO" if echo_sql else "WARNING", "propagate": True},
        },
        log_exceptions="debug",
    )
