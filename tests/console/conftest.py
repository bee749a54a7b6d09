"""The console in a real browser: Debian's chromium driven by Playwright (never a browser
Playwright downloads: `scripts/ensure_chromium.sh`, run by `make test`, installs the
Debian package when it is missing)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

SCREENSHOTS = REPO / "build" / "screenshots"


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Debian's chromium is not installed: run scripts/ensure_chromium.sh (make test does).")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """build/screenshots, emptied once per run by tests/conftest.py (not here: with
    pytest-xdist each worker has its own session, and would delete the others' pages)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
