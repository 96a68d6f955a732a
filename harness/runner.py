"""Run a model entrypoint over a test set's 2D inputs in a separate, limited process and collect its predictions.

The model is untrusted code. It runs in a fresh interpreter (`python -I`, exec'd, never a fork of the harness)
with a clean environment, its own working folder holding only the 2D inputs, resource limits (address space,
CPU time, open files, file size) and a wall-clock timeout. Arrays cross the boundary as `.npy` files, never
pickles; the ground truth stays in this process. Every failure becomes one line naming the sequence.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import BadInput

if TYPE_CHECKING:
    from harness.datasets.base import TestSet

OPEN_FILES = 256
MAX_FILE_BYTES = 4 * 1024**3
_UNSHARE_VARIANTS: tuple[tuple[str, ...], ...] = (
    ("--net", "--mount", "--propagation", "private"),
    ("--user", "--map-root-user", "--net", "--mount", "--propagation", "private"),
)


@lru_cache(maxsize=1)
def _unshare_flags() -> tuple[str, ...] | None:
    """The unshare flags that work here (new network and mount namespaces), or None where none do."""
    if shutil.which("unshare") is None:
        return None
    for flags in _UNSHARE_VARIANTS:
        probe = subprocess.run(["unshare", *flags, "true"], capture_output=True)
        if probe.returncode == 0:
            return flags
    return None


def sandbox_prefix(hidden: list[Path], keep: list[Path]) -> tuple[list[str], bool]:
    """Command prefix that runs the child with no network (loopback only, down) and the dataset folders hidden
    under empty tmpfs mounts; ([], False) where the kernel does not allow it. Folders holding something the
    child needs (`keep`: its work folder, Python, the harness) are never hidden."""
    flags = _unshare_flags()
    if flags is None:
        return [], False
    kept = [k.resolve() for k in keep]
    candidates = {p.resolve() for p in hidden if p.is_dir() and not any(k == p.resolve() or p.resolve() in k.parents for k in kept)}
    masks = sorted(p for p in candidates if not any(q in p.parents for q in candidates))  # a masked folder hides its insides
    script = "".join(f"mount -t tmpfs none {shlex.quote(str(p))} && " for p in masks) + 'exec "$@"'
    return ["unshare", *flags, "sh", "-c", script, "sh"], True


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 3600.0
    memory_gb: float = 16.0


def _limit(limits: Limits) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        memory = int(limits.memory_gb * 1024**3)
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = int(limits.timeout_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))

    return apply


def _write_inputs(work: Path, test: TestSet, source: str) -> tuple[np.ndarray, list[str]]:
    """The 2D keypoints as one `.npy`, a NaN-filled `out.npy` for the predictions, then the manifest; returns
    the sequences' start rows and ids."""
    np.save(work / "in.npy", np.ascontiguousarray(test.inputs_2d[source]), allow_pickle=False)
    out = np.lib.format.open_memmap(work / "out.npy", mode="w+", dtype=np.float32, shape=(len(test), test.gt3d.shape[1], 3))
    out[:] = np.nan  # frames the model never writes stay NaN and fail the finiteness check
    out.flush()
    del out
    seqs = test.sequences
    entries = [
        {"id": name, "start": int(start), "length": int(length), "intrinsics": test.intrinsics.get(camera, {})}
        for name, start, length, camera in zip(seqs["name"], seqs["start"], seqs["length"], seqs["camera"])
    ]
    tmp = work / "manifest.json.tmp"
    tmp.write_text(json.dumps({"joint_set": test.joint_set, "sequences": entries}))
    tmp.rename(work / "manifest.json")  # the worker waits for this name: it appears complete
    return seqs["start"].to_numpy(), list(seqs["name"])


@dataclass
class ModelRun:
    predictions: np.ndarray  # (N, J, 3) mm, the test set's sample order
    meta: dict  # the module's POSEBENCH_META
    isolated: bool  # ran without network and without sight of the dataset folders


class ModelProcess:
    """A model worker started early (it imports the model while the harness loads the data), then fed one
    test set's 2D inputs with `run`. Use as a context manager: the process and its folder are always cleaned up.

    The worker writes one byte to a pipe per finished sequence: that drives the progress bar and wakes the
    harness the moment the worker is done."""

    def __init__(
        self,
        spec: str,
        limits: Limits = Limits(),
        search_path: Path | None = None,
        env_extra: dict[str, str] | None = None,
        hidden: list[Path] | None = None,
        options: dict[str, str] | None = None,
    ) -> None:
        self.spec, self.limits = spec, limits
        self.work = Path(tempfile.mkdtemp(prefix="posebench-model-"))
        search = Path(search_path or Path.cwd())
        keep = [self.work, Path(sys.prefix), Path(sys.base_prefix), Path(__file__).resolve().parents[1], search, Path(spec.rpartition(":")[0]).parent]
        prefix, self.isolated = sandbox_prefix(hidden or [], keep)
        self._done_r, done_w = os.pipe()
        cmd = [*prefix, sys.executable, "-I", "-m", "harness.model_worker", str(self.work), spec, str(search), str(done_w), json.dumps(options or {})]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.work), "LANG": "C.UTF-8", **(env_extra or {})}
        self._stderr = open(self.work / "stderr.txt", "w")
        self.deadline = time.monotonic() + limits.timeout_s
        self.done = 0  # sequences the worker reported finished
        self.proc = subprocess.Popen(
            cmd, cwd=self.work, env=env, stdout=subprocess.DEVNULL, stderr=self._stderr, preexec_fn=_limit(limits), start_new_session=True, pass_fds=(done_w,)
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
        starts, ids = _write_inputs(self.work, test, source)
        try:
            self._wait(len(ids), progress)
        except (TimeoutError, subprocess.TimeoutExpired):
            raise BadInput(f"{self.spec}: sequence {ids[min(self.done, len(ids) - 1)]}: no answer within the {self.limits.timeout_s:g} s timeout (--timeout)") from None
        at = ids[min(self.done, len(ids) - 1)]
        if self.proc.returncode != 0:
            raise BadInput(_failure(self.spec, self.work, self.proc.returncode, at, self.limits))
        if self.done < len(ids):
            raise BadInput(f"{self.spec}: sequence {at}: the model process exited before answering it")
        meta_path = self.work / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        return ModelRun(_collect(self.spec, self.work, test, starts, ids), meta if isinstance(meta, dict) else {}, self.isolated)


def _failure(spec: str, work: Path, code: int, at: str, limits: Limits) -> str:
    error = work / "error.json"
    if error.is_file():
        info = json.loads(error.read_text())
        if info.get("kind") == "contract":
            return f"{spec}: sequence {info['sequence']}: {info['error']}"
        if info["error"].startswith("MemoryError"):
            return f"{spec}: sequence {info['sequence']}: ran out of memory (limit {limits.memory_gb:g} GB, --memory-limit)"
        return f"{spec}: sequence {info['sequence']}: the model raised {info['error']}"
    reason = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    return f"{spec}: sequence {at}: the model process died ({reason}; memory limit {limits.memory_gb:g} GB, CPU time {limits.timeout_s:g} s)"


def _collect(spec: str, work: Path, test: TestSet, starts: np.ndarray, ids: list[str]) -> np.ndarray:
    """The predictions the worker wrote, checked: the harness's own shape, finite everywhere."""
    expected = (len(test), test.gt3d.shape[1], 3)
    try:
        pred = np.load(work / "out.npy", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{spec}: no readable predictions ({exc})") from None
    if pred.shape != expected or pred.dtype != np.float32:
        raise BadInput(f"{spec}: the prediction file was replaced (shape {pred.shape}, {pred.dtype}; expected {expected}, float32)")
    bad = ~np.isfinite(pred).all(axis=(1, 2))
    if bad.any():
        seq = ids[int(np.searchsorted(starts, int(np.argmax(bad)), side="right")) - 1]
        raise BadInput(f"{spec}: sequence {seq}: returned NaN or inf")
    return pred
