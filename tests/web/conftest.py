"""The browser the web tests drive: Debian's Chromium through Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import need

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only: what a browser sees does not depend on the backend (tests/status does)."""
    path = tmp_path / "warroom.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Debian Chromium per module (Playwright never downloads a browser here)."""
    need(
        shutil.which("chromium") is not None or Path("/usr/bin/chromium").exists(),
        "Chromium is not installed (apt-get install chromium)",
    )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # The machine's network is closed: keep Chromium from calling home at all.
            args=["--disable-gpu", "--disable-quic", "--disable-background-networking"],
        )
        yield launched
        launched.close()
