"""The app's log records reach the ``sys.stderr`` of the moment, not the one logging was configured with."""

from __future__ import annotations

import io
import logging
import sys
import time

import pytest

from app.server import create_app
from app.settings import Settings


def _wait_for(stream: io.StringIO, text: str, timeout: float = 10.0) -> str:
    """What ``stream`` holds once ``text`` appears in it (the queue listener writes from its own thread)."""
    deadline = time.monotonic() + timeout
    while text not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    return stream.getvalue()


def test_a_record_after_stderr_was_swapped_and_closed_is_written_not_a_logging_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured_with = io.StringIO()
    monkeypatch.setattr(sys, "stderr", configured_with)
    create_app(Settings(packs=("contacts_service",), auto_migrate=False))
    configured_with.close()
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)

    logging.getLogger("packflow.logging_test").warning("written after the swap")

    written = _wait_for(now, "written after the swap")
    assert "Logging error" not in written
    assert written.count("WARNING - ") == 1, written  # formatted once
    assert "packflow.logging_test" in written
    assert written.rstrip().endswith("written after the swap")
