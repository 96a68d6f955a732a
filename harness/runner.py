"""Run a model entrypoint over a test set's 2D inputs in a separate, confined process and collect its predictions.

The model is untrusted code. It runs in a fresh interpreter (`python -I`, exec'd, never a fork of the harness)
inside the bubblewrap sandbox of `harness.sandbox` (or, with --no-sandbox, only under resource limits), with
an empty environment and a wall-clock timeout. Its work folder holds the 2D inputs and three files the harness
makes before the model starts, the only ones the worker writes (in the sandbox the rest of the folder is
read-only to it). Arrays cross the boundary as `.npy` files, never pickles; the ground truth stays in this
process. Whatever the harness writes there it creates with O_EXCL or rewrites only while it is a regular file,
and it reads back only regular files of a bounded size, without following links or blocking: a planted FIFO or
link fails in one line instead of hanging the harness. Every failure becomes one line naming the sequence.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

import harness
from harness.errors import BadInput
from harness.sandbox import Limits, bwrap_args, python_paths

if TYPE_CHECKING:
    from harness.datasets.base import TestSet

MAX_REPORT_BYTES = 1024**2  # meta.json and error.json
OUTPUT = "out.npy"
# The files the worker writes; made by the harness before the model starts, and in the sandbox the only
# writable things of a work folder that is otherwise read-only to the model.
WRITTEN_BY_WORKER = (OUTPUT, "meta.json", "error.json")


def _create(spec: str, path: Path) -> BinaryIO:
    """A new file the harness writes in the model's folder: created here (O_EXCL, no links followed), never one
    the model planted there, which could be a FIFO that blocks the writer."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError:
        raise BadInput(f"{spec}: the model put something at {path.name} in its work folder before the harness wrote it") from None
    return os.fdopen(fd, "wb")


def _rewrite(spec: str, path: Path) -> BinaryIO:
    """One of the files the harness made before the model started, opened to be written again: only while it is
    still a regular file (no links followed, no waiting on a FIFO)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise BadInput(f"{spec}: {path.name} in its work folder was replaced ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadInput(f"{spec}: {path.name} in its work folder was replaced (not a regular file)")
    return os.fdopen(fd, "wb")


def _read_back(spec: str, path: Path, limit: int) -> bytes | None:
    """The bytes of a file the model left (None if there is none), only if it is a regular file of at most
    `limit` bytes: opened without following links and without blocking, so a FIFO cannot hang the harness."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadInput(f"{spec}: {path.name} in its work folder cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise BadInput(f"{spec}: {path.name} in its work folder was replaced (expected a regular file of at most {limit} bytes)")
        return fh.read(limit + 1)[:limit]


def _write_inputs(spec: str, work: Path, test: TestSet, source: str) -> tuple[np.ndarray, list[str]]:
    """The 2D keypoints as one `.npy`, a NaN-filled `out.npy` for the predictions, then the manifest; returns
    the sequences' start rows and ids."""
    with _create(spec, work / "in.npy") as fh:
        np.save(fh, np.ascontiguousarray(test.inputs_2d[source]), allow_pickle=False)
    with _rewrite(spec, work / OUTPUT) as fh:  # frames the model never writes stay NaN and fail the finiteness check
        np.save(fh, np.full((len(test), test.gt3d.shape[1], 3), np.nan, dtype=np.float32), allow_pickle=False)
    seqs = test.sequences
    entries = [
        {"id": name, "start": int(start), "length": int(length), "intrinsics": test.intrinsics.get(camera, {})}
        for name, start, length, camera in zip(seqs["name"], seqs["start"], seqs["length"], seqs["camera"])
    ]
    with _create(spec, work / "manifest.json.tmp") as fh:
        fh.write(json.dumps({"joint_set": test.joint_set, "sequences": entries}).encode())
    os.rename(work / "manifest.json.tmp", work / "manifest.json")  # the worker waits for this name: it appears complete
    return seqs["start"].to_numpy(), list(seqs["name"])


def check_spec(spec: str, search: Path) -> None:
    """A --model spec spelled PATH.py:FACTORY (the file exists) or MODULE:FACTORY, or one line saying what is wrong."""
    target, colon, factory = spec.rpartition(":")
    usage = "expected PATH.py:FACTORY or MODULE:FACTORY, e.g. my_model.py:make or my_package.model:make"
    if not colon or not target or not factory.isidentifier():
        raise BadInput(f"--model {spec}: {usage}")
    if target.endswith(".py"):
        if not (search / target).is_file():
            raise BadInput(f"--model {spec}: no file {target}")
    elif not all(part.isidentifier() for part in target.split(".")):
        raise BadInput(f"--model {spec}: '{target}' is neither a .py file nor a dotted module name; {usage}")


def model_paths(spec: str, search: Path, options: dict[str, str]) -> list[Path]:
    """What the model's code and options need to be readable in the sandbox: the file's folder or the
    package's, and every option that names an existing path."""
    target = spec.rpartition(":")[0]
    paths = [Path(v) for v in options.values() if v and Path(v).exists()]
    if target.endswith(".py"):
        return [*paths, (search / target).resolve().parent]
    top = target.split(".")[0]
    local = [p for p in (search / f"{top}.py", search / top) if top and p.exists()]
    if local:  # a module of the current folder: only it becomes visible there
        return [*paths, *local]
    try:
        found = importlib.util.find_spec(top) if top else None
    except (ImportError, ValueError):
        found = None
    if found is not None:
        paths += [Path(p) for p in (found.submodule_search_locations or [])] or ([Path(found.origin).parent] if found.origin else [])
    return paths


@dataclass
class ModelRun:
    predictions: np.ndarray  # (N, J, 3) mm, the test set's sample order
    meta: dict  # the module's POSEBENCH_META
    isolation: str  # how the model process was confined, for the result


class ModelProcess:
    """A model worker started early (it imports the model while the harness loads the data), then fed one
    test set's 2D inputs with `run`. Use as a context manager: the process, its control groups and its folder
    are always cleaned up.

    The worker writes one byte to a pipe per finished sequence: that drives the progress bar and wakes the
    harness the moment the worker is done."""

    def __init__(
        self,
        spec: str,
        limits: Limits | None = None,
        search_path: Path | None = None,
        env_extra: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
        sandbox: bool = True,
        hidden: list[Path] | None = None,
    ) -> None:
        self.spec, self.limits = spec, limits or Limits()
        search = Path(search_path or Path.cwd())
        check_spec(spec, search)
        target, _, factory = spec.rpartition(":")
        if target.endswith(".py"):  # the model sees no working folder of the harness: hand it an absolute path
            spec = f"{(search / target).resolve()}:{factory}"
        own = model_paths(spec, search, options or {})
        inside = next((h for h in hidden or [] if any(Path(h).resolve() == o.resolve() or Path(h).resolve() in o.resolve().parents for o in own)), None)
        if sandbox and inside is not None:
            raise BadInput(f"{self.spec}: the model's files lie inside {inside}, which the model must not see; move them out")
        self.work = Path(tempfile.mkdtemp(prefix="posebench-model-"))
        for name in WRITTEN_BY_WORKER:
            _create(spec, self.work / name).close()
        home = "/tmp" if sandbox else str(self.work)  # the sandbox's private scratch space
        env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **(env_extra or {})}
        self._done_r, done_w = os.pipe()
        cmd = [sys.executable, "-I", "-m", "harness.model_worker", str(self.work), spec, str(search), str(done_w), json.dumps(options or {})]
        self.limits.prepare()
        if sandbox:
            readable = [*python_paths(), Path(harness.__file__).parent, *own]
            cmd = [*bwrap_args([*readable, self.work], [self.work / name for name in WRITTEN_BY_WORKER], env, self.work, hidden or []), *cmd]
            self.isolation = f"bubblewrap sandbox (own PID and network namespaces, read-only view of Python and the model's files); {self.limits.applied}"
        else:
            self.isolation = f"no sandbox (--no-sandbox): {self.limits.applied}"
        self._stderr = open(self.work / "stderr.txt", "w")
        self.deadline = time.monotonic() + self.limits.timeout_s
        self.done = 0  # sequences the worker reported finished
        self.proc = subprocess.Popen(
            cmd, cwd=self.work, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr, preexec_fn=self.limits.in_child(), start_new_session=True, pass_fds=(done_w,)
        )
        os.close(done_w)

    def __enter__(self) -> ModelProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        os.close(self._done_r)
        self._stderr.close()
        self.limits.release()
        shutil.rmtree(self.work, ignore_errors=True)

    def _wait(self, n_seqs: int, progress: Callable[[int, int], None] | None) -> None:
        """Follow the worker until it exits or the deadline passes, counting the sequences it finished."""
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise TimeoutError
            ready, _, _ = select.select([self._done_r], [], [], min(remaining, 0.25))
            if ready:
                chunk = os.read(self._done_r, 4096)
                if not chunk:  # the worker closed its end: it is exiting
                    self.proc.wait(timeout=max(self.deadline - time.monotonic(), 0.001))
                    return
                self.done = min(self.done + len(chunk), n_seqs)
                if progress:
                    progress(self.done, n_seqs)
            elif self.proc.poll() is not None:  # exited while something it started still holds the pipe
                return

    def run(self, test: TestSet, source: str, progress: Callable[[int, int], None] | None = None) -> ModelRun:
        """Hand over every sequence of `test`'s 2D source `source`, wait, and collect the predictions."""
        if source not in test.inputs_2d:
            raise BadInput(f"--input-2d: no 2D source '{source}' for {test.dataset} (have: {', '.join(test.inputs_2d) or 'none'})")
        starts, ids = _write_inputs(self.spec, self.work, test, source)
        try:
            self._wait(len(ids), progress)
        except (TimeoutError, subprocess.TimeoutExpired):
            raise BadInput(f"{self.spec}: sequence {ids[min(self.done, len(ids) - 1)]}: no answer within the {self.limits.timeout_s:g} s timeout (--timeout)") from None
        at = ids[min(self.done, len(ids) - 1)]
        if self.proc.returncode != 0:
            raise BadInput(_failure(self.spec, self.work, self.proc.returncode, at, self.limits))
        if self.done < len(ids):
            raise BadInput(f"{self.spec}: sequence {at}: the model process exited before answering it")
        meta = _report(self.spec, self.work / "meta.json") or {}
        return ModelRun(_collect(self.spec, self.work, test, starts, ids, test.inputs_2d[source]), meta, self.isolation)


def _report(spec: str, path: Path) -> dict | None:
    """A small JSON object the worker left (meta.json, error.json), read safely; None if there is none."""
    raw = _read_back(spec, path, MAX_REPORT_BYTES)
    if not raw:  # absent, or left empty as the harness made it
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadInput(f"{spec}: {path.name} in its work folder is not the JSON the worker writes") from None
    return value if isinstance(value, dict) else None


def _failure(spec: str, work: Path, code: int, at: str, limits: Limits) -> str:
    info = _report(spec, work / "error.json")
    if limits.oom_killed():
        return f"{spec}: sequence {info.get('sequence', at) if info else at}: ran out of memory (limit {limits.memory_gb:g} GB for the whole process tree, --memory-limit)"
    if info and {"sequence", "error"} <= set(info):
        info = {key: str(value) for key, value in info.items()}
        if info.get("kind") == "spec":
            return f"--model {spec}: {info['error']}"
        if info.get("kind") == "contract":
            return f"{spec}: sequence {info['sequence']}: {info['error']}"
        if info["error"].startswith("MemoryError"):
            return f"{spec}: sequence {info['sequence']}: ran out of memory (limit {limits.memory_gb:g} GB, --memory-limit)"
        return f"{spec}: sequence {info['sequence']}: the model raised {info['error']}"
    reason = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    return f"{spec}: sequence {at}: the model process died ({reason}; memory limit {limits.memory_gb:g} GB, CPU time {limits.timeout_s:g} s)"


def _collect(spec: str, work: Path, test: TestSet, starts: np.ndarray, ids: list[str], kp2d: np.ndarray) -> np.ndarray:
    """The predictions the worker wrote, checked: the harness's own shape, finite everywhere (a NaN answer
    on a sequence whose 2D input has NaN, joints a detector missed, says so)."""
    expected = (len(test), test.gt3d.shape[1], 3)
    limit = 1024 + int(np.prod(expected)) * 4  # the .npy header and the float32 data
    raw = _read_back(spec, work / "out.npy", limit)
    try:
        pred = np.load(io.BytesIO(raw or b""), allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise BadInput(f"{spec}: no readable predictions ({exc})") from None
    if pred.shape != expected or pred.dtype != np.float32:
        raise BadInput(f"{spec}: the prediction file was replaced (shape {pred.shape}, {pred.dtype}; expected {expected}, float32)")
    bad = ~np.isfinite(pred).all(axis=(1, 2))
    if bad.any():
        k = int(np.searchsorted(starts, int(np.argmax(bad)), side="right")) - 1
        stop = starts[k + 1] if k + 1 < len(starts) else len(test)
        gaps = int(np.isnan(kp2d[starts[k] : stop]).any(axis=(1, 2)).sum())
        hint = f" (its 2D input marks missed joints NaN on {gaps} of {stop - starts[k]} frames: fill them in)" if gaps else ""
        raise BadInput(f"{spec}: sequence {ids[k]}: returned NaN or inf{hint}")
    return pred
