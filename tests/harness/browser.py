"""The stack's web page in Debian's Chromium (Playwright drives it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from local.stack import LocalStack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def open_page(browser, stack: LocalStack, folder: Path, files: dict[str, bytes]) -> tuple[Any, list[str]]:
    """The stack's page in a new browser tab with these files written to ``folder`` and picked."""
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(str(path))
    page = browser.new_page()
    page.goto(stack.api_url + "/")
    page.set_input_files("#file-input", paths)
    return page, paths
