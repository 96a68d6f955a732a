"""Serving the leaderboard page: Streamlit in a child process that goes down with `harness leaderboard`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib import resources

from leaderboard.db import DB_URL_ENV

STOP_GRACE_S = 10


def serve(db_url: str, port: int) -> int:
    """Run the page on 127.0.0.1:`port` (headless) until the server exits or this process gets SIGTERM or
    SIGINT, which stop the server too; returns the exit code (0 after such a stop)."""
    app_path = resources.files("leaderboard").joinpath("app.py")
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app_path), "--server.headless=true", "--server.address=127.0.0.1",
        f"--server.port={port}", "--browser.gatherUsageStats=false", "--global.developmentMode=false", "--client.toolbarMode=viewer",
    ]
    server = subprocess.Popen(cmd, env={**os.environ, DB_URL_ENV: db_url})
    stopped: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopped.append(signum)
        server.terminate()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    try:
        code = server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    return 0 if stopped else code
