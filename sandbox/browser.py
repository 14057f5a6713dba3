"""Debian's Chromium, headless, for the demo's screenshot and the dashboard's browser tests."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Playwright is a development dependency: the demo starts without it
    from playwright.sync_api import Browser, Playwright

# A clock moved for a test run (`scripts/test.sh --clock`, libfaketime preloaded) is not
# passed on: under libfaketime Chromium's page waits time out, and the browser decides
# nothing by the date (the dashboard's cookie carries a Max-Age).
CLOCK_MOVERS = ("LD_PRELOAD", "FAKETIME", "DONT_FAKE_MONOTONIC", "FAKETIME_FORCE_MONOTONIC_FIX")


def launch_chromium(playwright: Playwright) -> Browser:
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    environ: dict[str, str | float | bool] = {
        name: value for name, value in os.environ.items() if name not in CLOCK_MOVERS
    }
    return playwright.chromium.launch(
        executable_path=executable, headless=True, args=["--no-sandbox"], env=environ
    )
