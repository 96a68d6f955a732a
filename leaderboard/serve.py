"""Serving the leaderboard: the Streamlit page and the evaluation workers as child processes that go down with
`harness leaderboard` / `harness serve`."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

from leaderboard.db import DB_URL_ENV

STOP_GRACE_S = 10


def page_command(port: int) -> list[str]:
    """The Streamlit server of the page on 127.0.0.1:`port`, headless; its upload cap is the jobs' byte cap
    rounded up to Streamlit's megabytes (submit enforces the exact number)."""
    from leaderboard.jobs import MAX_UPLOAD_BYTES

    app_path = resources.files("leaderboard").joinpath("app.py")
    return [
        sys.executable, "-m", "streamlit", "run", str(app_path), "--server.headless=true", "--server.address=127.0.0.1",
        f"--server.port={port}", "--browser.gatherUsageStats=false", "--global.developmentMode=false", "--client.toolbarMode=viewer",
        f"--server.maxUploadSize={max(1, math.ceil(MAX_UPLOAD_BYTES / 1024**2))}",
    ]


def worker_command(db_url: str, broker: str, datasets: Path | None, name: str | None = None) -> list[str]:
    """One `harness worker` process."""
    cmd = [sys.executable, "-m", "harness", "worker", "--db", db_url, "--broker", broker]
    cmd += ["--datasets", str(datasets.resolve())] if datasets is not None else []
    return cmd + (["--name", name] if name else [])


def supervise(commands: list[list[str]], env: dict[str, str]) -> int:
    """Run the commands side by side until one exits or this process gets SIGTERM or SIGINT, then stop all of
    them; the first exit code (0 after such a signal)."""
    children: list[subprocess.Popen] = []
    stopped: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopped.append(signum)
        for child in children:
            if child.poll() is None:
                child.terminate()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    try:
        for cmd in commands:
            if not stopped:
                children.append(subprocess.Popen(cmd, env={**os.environ, **env}))
        while not stopped and all(child.poll() is None for child in children):
            time.sleep(0.2)
        code = next((child.returncode for child in children if child.returncode is not None), 0)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 0 if stopped else code


def serve(db_url: str, port: int) -> int:
    """Run the page alone until the server exits or this process gets SIGTERM or SIGINT; the exit code."""
    return supervise([page_command(port)], {DB_URL_ENV: db_url})
