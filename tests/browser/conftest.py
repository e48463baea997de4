"""Real Chromium (Debian's, driven by Playwright) against the demo served by uvicorn.

No browser is downloaded: Playwright's Python package drives the system
``chromium``.  Without it (or without the ``playwright`` package) these tests
skip with a loud reason locally and FAIL under ``CI=true``, so CI can never
pass by silently skipping them.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sessionware import MemoryBackend
from sessionware.cli.demo import create_app
from tests.ci import in_ci

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET = "browser-test-key-0123456789abcdefghijklmnopqrstuvwxyz"


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(
        f"SKIPPED LOUDLY: {reason} (install with `apt-get install chromium` and "
        "`pip install playwright`; never `playwright install`)"
    )


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        _unavailable("no `chromium` executable on PATH")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def playwright(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the `playwright` Python package is not installed")
    # Module scope: Playwright's sync API runs its own event loop on this thread, which
    # must be gone before any asyncio test elsewhere in the run starts its loop.
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Any, chromium_path: str) -> Iterator[Any]:
    instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    yield instance
    instance.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def demo_url() -> Iterator[str]:
    """The demo (memory store, secure defaults) on a free loopback port, as http://localhost."""
    import uvicorn

    app = create_app(MemoryBackend(), secret_keys=[SECRET])
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start the demo")
        time.sleep(0.02)
    yield f"http://localhost:{port}"
    server.should_exit = True
    thread.join(timeout=10)
