"""GraphiQL at `/graphiql` works offline: every asset is served by data-index-sink.

A headless Chromium with background networking off loads the page from the running
function and must render the editor; the page names no other host.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.stack import DevStack

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=20000",
    "--dump-dom",
)


@pytest.fixture(scope="module")
def index(stack: DevStack) -> str:
    """data-index-sink's base URL."""
    return stack.url("data-index-sink")


def test_the_page_loads_nothing_from_another_host(index: str) -> None:
    page = httpx.get(f"{index}/graphiql", timeout=30)
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(source.startswith("/graphiql/static/") for source in sources), sources
    for source in sources:
        asset = httpx.get(f"{index}{source}", timeout=30)
        assert asset.status_code == 200, source
        assert asset.headers["content-type"].startswith(("text/javascript", "text/css"))


def test_only_the_assets_are_served(index: str) -> None:
    escaping = httpx.get(f"{index}/graphiql/static/..%2Fhttp.py", timeout=10)
    assert escaping.status_code in (404, 405)
    assert "import" not in escaping.text
    unknown = httpx.get(f"{index}/graphiql/static/secret.js", timeout=10)
    assert unknown.status_code == 404


def test_headless_chromium_renders_the_editor(index: str, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "install Debian's chromium package (make install-test-tools)"
    dom = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"{index}/graphiql",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "graphiql-container" in dom
    assert "CodeMirror" in dom or "cm-editor" in dom
    assert "Loading..." not in dom
