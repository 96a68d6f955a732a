"""What the browser tests share: Chromium (required in CI), where screenshots go, and `harness leaderboard`
served on a free port until the test is done."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("POSEBENCH_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
CELLS = '[data-testid="stDataFrame"] [role="gridcell"]'
ROWS = '[data-testid="stDataFrame"] [role="row"]'


def require_chromium() -> None:
    """Skip without Chromium, unless POSEBENCH_REQUIRE_BROWSER=1 (CI), which makes its absence a failure."""
    if CHROMIUM is None:
        if os.environ.get("POSEBENCH_REQUIRE_BROWSER") == "1":
            pytest.fail("no chromium on PATH and POSEBENCH_REQUIRE_BROWSER=1")
        pytest.skip("no chromium on PATH (Debian package 'chromium')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def leaderboard_served(*args: str) -> Iterator[str]:
    """`harness leaderboard ARGS` on a free port; yields its URL once it listens, stops it afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "leaderboard", "--port", str(port), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("harness leaderboard did not start listening within 60 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
