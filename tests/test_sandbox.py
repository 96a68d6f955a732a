"""Hostile model entrypoints against the bubblewrap sandbox: each tries one way out, and each is contained with
one line (exit 2) and nothing stored, or, where the attack is to outlive the run, leaves nothing behind.

Every case runs `harness evaluate --model ... --store` as a separate process (a model that could stop or hang the
harness must not stop the test run), from a working folder that holds the leaderboard database. CI runs this
file as root and again as an unprivileged user (.ci/run)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from harness.sandbox import Limits

TIMEOUT_S = 180


@pytest.fixture(autouse=True)
def sandbox_required() -> None:
    if shutil.which("bwrap") is None:
        if os.environ.get("POSEBENCH_REQUIRE_SANDBOX") == "1":
            pytest.fail("no bubblewrap (bwrap) and POSEBENCH_REQUIRE_SANDBOX=1")
        pytest.skip("no bubblewrap (bwrap) here: Debian's package 'bubblewrap'")


def hostile(folder: Path, attack: str, name: str = "hostile") -> Path:
    """A model whose factory runs `attack`; an attack that fails raises, one that succeeds returns zeros."""
    path = folder / f"{name}.py"
    path.write_text(
        "import os, sys, time, signal, socket, subprocess\nimport numpy as np\n\n"
        "def contained(why):\n    raise RuntimeError('contained: ' + why)\n\n"
        "def make():\n" + textwrap.indent(textwrap.dedent(attack), "    ") + "\n"
        "    return lambda kp2d, intrinsics, joint_set, sequence_id: np.zeros(kp2d.shape[:-1] + (3,))\n"
    )
    return path


def run(cwd: Path, demo_yaml: Path, model: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "harness", "evaluate", "--model", f"{model}:make", "--dataset", "h36m", "--input-2d", "gt",
           "--datasets", str(demo_yaml), "--no-ci", "--store", "--db", f"sqlite:///{cwd / 'leaderboard.db'}", "--method", model.stem, *extra]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, env={**os.environ, **(env or {})})


def assert_contained(res: subprocess.CompletedProcess, cwd: Path, *words: str) -> None:
    """One line, exit 2, and no leaderboard row (the database is not even created)."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = [line for line in (res.stdout + res.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and all(w in lines[0] for w in words), lines
    assert not (cwd / "leaderboard.db").exists()


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "harness-cwd"
    folder.mkdir()
    (folder / "secret-notes.txt").write_text("the harness's working folder")
    return folder


@pytest.fixture
def models(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    return folder


def test_the_ground_truth_is_out_of_reach_by_every_route(demo_root, demo_yaml, cwd, models):
    gt = demo_root / "demo" / "h36m" / "data_3d_h36m.npz"
    routes = [str(gt), f"/proc/1/root{gt}", f"/proc/{os.getpid()}/root{gt}", f"/proc/{os.getpid()}/mem", f"/proc/{os.getppid()}/environ", str(cwd / "secret-notes.txt")]
    attack = f"""
    for route in {routes!r} + [f"/proc/{{os.getppid()}}/root{gt}"]:
        try:
            open(route, "rb").read(16)
        except OSError:
            continue
        return lambda kp2d, *a: np.zeros(kp2d.shape[:-1] + (3,))  # read it: the sandbox leaked
    visible = sorted(p for p in os.listdir("/proc") if p.isdigit())
    contained(f"nothing readable; processes visible: {{visible}}")
    """
    res = run(cwd, demo_yaml, hostile(models, attack))
    assert_contained(res, cwd, "contained: nothing readable")
    assert f"'{os.getpid()}'" not in res.stderr  # the harness's processes are not even listed


def test_the_harness_environment_is_not_passed_on(demo_yaml, cwd, models):
    attack = """
    if any("s3cret" in value for value in os.environ.values()):
        return lambda kp2d, *a: np.zeros(kp2d.shape[:-1] + (3,))
    contained(f"environment {sorted(os.environ)}")
    """
    res = run(cwd, demo_yaml, hostile(models, attack), env={"POSEBENCH_TEST_SECRET": "s3cret", "AWS_SECRET_ACCESS_KEY": "s3cret"})
    assert_contained(res, cwd, "contained: environment")


def test_nothing_outside_its_work_folder_can_be_written(demo_yaml, cwd, models):
    targets = [str(cwd / "leaderboard.db"), str(cwd / "forged.json"), str(models / "planted.py"), "/usr/lib/planted", str(Path.home() / "planted")]
    attack = f"""
    for target in {targets!r}:
        try:
            with open(target, "wb") as fh:
                fh.write(b"forged")
        except OSError:
            continue
        return lambda kp2d, *a: np.zeros(kp2d.shape[:-1] + (3,))
    contained("no write outside the work folder")
    """
    res = run(cwd, demo_yaml, hostile(models, attack))
    assert_contained(res, cwd, "contained: no write")
    assert not any(Path(t).exists() for t in targets)


def test_no_socket_of_the_host_is_reachable(demo_yaml, cwd, models, tmp_path):
    listeners = []
    path_sock = socket.socket(socket.AF_UNIX)
    path_sock.bind(str(tmp_path / "host.sock"))
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(f"\0posebench-test-{uuid.uuid4().hex}")
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    for s in (path_sock, abstract, tcp):
        s.listen()
        s.setblocking(False)
        listeners.append(s)
    addresses = [(int(socket.AF_UNIX), str(tmp_path / "host.sock")), (int(socket.AF_UNIX), abstract.getsockname()), (int(socket.AF_INET), tcp.getsockname())]
    attack = f"""
    for family, address in {addresses!r}:
        try:
            socket.socket(family).connect(address)
        except OSError:
            continue
        return lambda kp2d, *a: np.zeros(kp2d.shape[:-1] + (3,))
    contained("no host socket")
    """
    res = run(cwd, demo_yaml, hostile(models, attack))
    for s in listeners:
        with pytest.raises(BlockingIOError):
            s.accept()
        s.close()
    assert_contained(res, cwd, "contained: no host socket")


def test_the_harness_cannot_be_signalled(demo_yaml, cwd, models):
    attack = f"""
    for pid in ({os.getpid()}, os.getppid(), -1):
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass
    contained("signals sent")
    """
    res = run(cwd, demo_yaml, hostile(models, attack))  # a stopped harness would hang past TIMEOUT_S
    assert_contained(res, cwd, "contained: signals sent")


def test_a_fork_bomb_hits_the_process_limit_and_nothing_survives(demo_yaml, cwd, models):
    marker = f"posebench-bomb-{uuid.uuid4().hex}"
    attack = f"""
    children = 0
    try:
        for _ in range(5000):
            subprocess.Popen(["sh", "-c", "sleep 300", "{marker}"], start_new_session=True)
            children += 1
    except OSError as exc:
        contained(f"{{children}} children, then {{type(exc).__name__}}")
    """
    res = run(cwd, demo_yaml, hostile(models, attack))
    assert_contained(res, cwd, "contained:", "children, then")
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).stdout == b""


def test_processes_that_leave_the_session_do_not_outlive_the_run(demo_yaml, cwd, models):
    marker = f"posebench-survivor-{uuid.uuid4().hex}"
    attack = f"""
    subprocess.Popen(["sh", "-c", "sleep 300", "{marker}"], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        time.sleep(300)
        os._exit(0)
    """
    res = run(cwd, demo_yaml, hostile(models, attack))
    assert res.returncode == 0, res.stderr  # a working model: the run itself succeeds
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).stdout == b""


def test_memory_is_limited_for_the_whole_tree(demo_yaml, cwd, models):
    """Three children of 900 MB each, every one under the 2 GB limit alone, 2.7 GB together."""
    limits = Limits(memory_gb=2.0)
    limits.prepare()
    limits.release()
    if not limits.applied.startswith("control groups"):
        pytest.skip(f"no control groups for this user: {limits.applied} (per process only)")
    attack = """
    pids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            block = bytearray(900 * 1024 * 1024)
            block[::4096] = b"x" * len(block[::4096])
            time.sleep(20)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    contained("children ended")
    """
    res = run(cwd, demo_yaml, hostile(models, attack), "--memory-limit", "2")
    assert_contained(res, cwd, "ran out of memory", "whole process tree")


PLANTED = [
    ('os.mkfifo("in.npy")', "put something at in.npy"),
    ('os.remove("out.npy")\nos.symlink("/proc/self/environ", "out.npy")', "out.npy in its work folder was replaced"),
    ('import threading\ndef swap():\n    while not os.path.exists("manifest.json"):\n        time.sleep(0.01)\n    os.remove("out.npy")\n    os.mkfifo("out.npy")\nthreading.Thread(target=swap).start()', "out.npy in its work folder was replaced"),
]


@pytest.mark.parametrize(("attack", "expected"), PLANTED)
def test_planted_fifos_and_links_fail_in_one_line_even_without_the_sandbox(demo_yaml, cwd, models, attack, expected):
    """The harness's own defences (O_EXCL, no links followed, no blocking, regular files only), with the
    work folder writable as it is under --no-sandbox."""
    res = run(cwd, demo_yaml, hostile(models, attack), "--no-sandbox", "--timeout", "30")
    said = res.stdout + res.stderr
    if "swap" in attack and "no answer within" in said:
        expected = "no answer within"  # the swap came first and blocked the worker itself on the FIFO: its own hang
    elif "swap" in attack and "FileNotFoundError" in said:
        expected = "out.npy'"  # the worker opened out.npy between the thread's remove and mkfifo: its own error
    assert_contained(res, cwd, expected)


@pytest.mark.parametrize(("attack", "expected"), PLANTED)
def test_in_the_sandbox_the_work_folder_cannot_be_planted(demo_yaml, cwd, models, attack, expected):
    """Read-only but for the worker's three files, which are mount points: nothing can be planted or swapped."""
    res = run(cwd, demo_yaml, hostile(models, attack), "--timeout", "30")
    if res.returncode == 2:
        assert_contained(res, cwd, "the model raised", "Errno")
    else:  # the swapping thread failed quietly and the run went on untouched
        assert res.returncode == 0 and "swap" in attack, (res.stdout, res.stderr)


def test_without_bubblewrap_the_model_is_refused_unless_no_sandbox(demo_yaml, cwd, models, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "sleep", "pgrep"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    model = hostile(models, "pass", "honest")
    res = run(cwd, demo_yaml, model, env={"PATH": str(bin_dir)})
    assert_contained(res, cwd, "bubblewrap is not installed", "apt-get install bubblewrap")
    res = run(cwd, demo_yaml, model, "--no-sandbox", env={"PATH": str(bin_dir)})
    assert res.returncode == 0, res.stderr
    assert "stored as unsandboxed" in res.stdout and "--no-sandbox" in res.stderr


def test_a_sandboxed_run_says_how_it_was_confined(demo_yaml, cwd, models):
    import json

    out = cwd / "r.json"
    res = run(cwd, demo_yaml, hostile(models, "pass", "honest"), "--json", str(out))
    assert res.returncode == 0, res.stderr
    isolation = json.loads(out.read_text())["environment"]["model_isolation"]
    assert isolation.startswith("bubblewrap sandbox") and ("control groups" in isolation or "rlimits" in isolation), isolation
    assert "stored as verified" in res.stdout


def test_dataset_folders_and_the_database_stay_hidden_inside_the_models_own_folder(demo_yaml, cwd, tmp_path):
    """A model kept in the harness's working folder sees that folder read-only, but not the database in it; a
    model kept inside a dataset folder is refused before it runs."""
    (cwd / "leaderboard.db").write_bytes(b"SQLite format 3\0")
    attack = f"""
    try:
        data = open({str(cwd / 'leaderboard.db')!r}, "rb").read()
    except OSError as exc:
        contained(f"the database: {{type(exc).__name__}}")
    if data.startswith(b"SQLite"):
        return lambda kp2d, *a: np.zeros(kp2d.shape[:-1] + (3,))
    contained(f"the database reads as {{len(data)}} bytes")
    """
    res = run(cwd, demo_yaml, hostile(cwd, attack))
    assert res.returncode == 2 and "contained: the database" in res.stderr, (res.stdout, res.stderr)
    (cwd / "leaderboard.db").unlink()
    data_root = Path(demo_yaml).parent
    res = run(cwd, demo_yaml, hostile(data_root, "pass", "inside_data"))
    assert_contained(res, cwd, "lie inside", "move them out")


@pytest.mark.parametrize("extra", [(), ("--no-sandbox",)])
def test_the_model_dies_with_a_killed_harness(demo_yaml, cwd, models, extra):
    """SIGKILL to the harness leaves no model process behind, in the sandbox and without it."""
    import time

    model = hostile(models, "time.sleep(600)", "sleeper")
    cmd = [sys.executable, "-m", "harness", "evaluate", "--model", f"{model}:make", "--dataset", "h36m", "--input-2d", "gt", "--datasets", str(demo_yaml), "--no-ci", *extra]
    harness_proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while subprocess.run(["pgrep", "-f", f"model_worker.*{model}"], capture_output=True).stdout == b"":
        assert time.time() < deadline and harness_proc.poll() is None, "the model never started"
        time.sleep(0.2)
    harness_proc.kill()
    harness_proc.wait()
    deadline = time.time() + 10
    while subprocess.run(["pgrep", "-f", f"model_worker.*{model}"], capture_output=True).stdout != b"" and time.time() < deadline:
        time.sleep(0.2)
    assert subprocess.run(["pgrep", "-f", f"model_worker.*{model}"], capture_output=True).stdout == b""
