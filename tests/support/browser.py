"""Chromium for the browser tests: the distribution's package, driven by Playwright's Python package.

Playwright's own browser download is not used: its ``chromium.launch`` gets ``executable_path`` of the
system's Chromium (``apt-get install chromium chromium-driver``; ``.ci/run`` installs it). Without it the
browser tests skip saying how to install it, and under ``CI=true`` that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.support.databases import IN_CI

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "install Chromium to run the browser tests: sudo apt-get install -y chromium chromium-driver"


def chromium_path() -> str | None:
    """The system Chromium (``PACKFLOW_TEST_CHROMIUM`` wins), or ``None``."""
    given = os.environ.get("PACKFLOW_TEST_CHROMIUM")
    if given:
        return given if os.path.exists(given) else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    """The Chromium to drive; skips the test without one (a failure under ``CI=true``)."""
    path = chromium_path()
    if path is None:
        if IN_CI:
            pytest.fail(f"no Chromium found: {INSTALL_HINT}")
        pytest.skip(f"no Chromium found: {INSTALL_HINT}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        message = "Playwright is not installed: pip install -e '.[test]'"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (Playwright's sync API), closed afterwards."""
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()
