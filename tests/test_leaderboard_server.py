"""`harness leaderboard` takes its Streamlit server down with it on SIGTERM and Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.browser_parts import free_port


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_too(tmp_path, sig):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "leaderboard", "--db", f"sqlite:///{tmp_path / 'lb.db'}", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not listening(port):
        assert time.time() < deadline and proc.poll() is None, "the server did not start"
        time.sleep(0.3)
    proc.send_signal(sig)
    assert proc.wait(timeout=20) == 0
    deadline = time.time() + 5
    while listening(port) and time.time() < deadline:
        time.sleep(0.2)
    assert not listening(port), "the Streamlit server outlived `harness leaderboard`"
