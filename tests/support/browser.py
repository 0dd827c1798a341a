"""Headless Chromium for the browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright
for Python (Playwright's own browser download cannot work offline; ``make test`` installs the
Debian package when it is missing). One browser per test module, a fresh page per test.

The flags keep Chromium off the network (no background requests, component updates, sync) and
working as root in a container (no sandbox, no GPU)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from computerails.dashboard.snapshot import CHROMIUM, CHROMIUM_ARGS, VIEWPORT

__all__ = ["CHROMIUM", "chromium", "new_page"]


@contextmanager
def chromium(executable: Path = CHROMIUM) -> Iterator[Browser]:
    """A headless Chromium, closed on exit.

    Raises:
        FileNotFoundError: Chromium is not installed (``make test`` installs it).
    """
    if not executable.exists():
        raise FileNotFoundError(f"{executable} is missing: `make chromium` (as root) installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(executable), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page in a fresh context, and the list its console errors and uncaught exceptions are
    appended to (a chart that fails to draw shows up there, not as a failed request)."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page, errors
    finally:
        context.close()
