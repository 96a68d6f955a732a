"""The run cache of `harness regress`: finished training runs kept under their config hash, safe to share.

Layout: `<root>/<baseline>-<config name>-<hash of every setting>-<inputs_digest>/` holds one finished run; it appears only
when the run is complete. Training writes into a private folder `<root>/.<run>.<random>` and renames it into
place at the end, so a half-written run is never seen under the run's name, and a run that died leaves only
its private folder, removed by the next run of that config. `<root>/<run>.lock` (a `filelock` lock, released
by the operating system when its holder dies) makes concurrent runs of one config take turns: the second waits
for the first and reuses what it trained.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock, Timeout

import baselines
import harness
from harness.errors import BadInput

ENV = "POSEBENCH_CACHE"
DEFAULT = "~/.cache/posebench-runs"


def cache_root(override: Path | None = None) -> Path:
    """`--cache-dir`, else $POSEBENCH_CACHE, else ~/.cache/posebench-runs."""
    return (override or Path(os.environ.get(ENV) or DEFAULT)).expanduser()


def inputs_digest(data_files: list[Path]) -> str:
    """A short sha256 of what a run's outcome depends on besides its config: the source of the packages that
    train and score it (every .py and .yaml file of `baselines` and `harness`), the torch and numpy versions, and
    the contents of its data files. A run trained by other code, or on other data, is never reused."""
    digest = hashlib.sha256(f"torch {torch.__version__} numpy {np.__version__}".encode())
    sources = [f for pkg in (baselines, harness) for f in sorted(Path(pkg.__file__).parent.rglob("*")) if f.suffix in (".py", ".yaml")]
    for path in [*sources, *sorted(data_files)]:
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


def cached_run(root: Path, run: str, final: str, train: Callable[[Path], object], retrain: bool = False, say: Callable[[str], None] = print) -> tuple[Path, bool]:
    """The folder of the finished run `run` under `root` (whose checkpoint is `final`), trained by
    `train(folder)` unless it is there already (or `retrain`); returns it and whether this call trained it."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"{root}: cannot create the run cache there ({exc.strerror or exc})") from None
    folder = root / run
    lock = FileLock(root / f"{run}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        say(f"waiting for another process training {folder} (lock {lock.lock_file})")
        lock.acquire()
    try:
        if (folder / final).is_file() and not retrain:
            return folder, False
        for orphan in root.glob(f".{run}.*"):  # private folders of runs that died: only the lock holder trains
            shutil.rmtree(orphan, ignore_errors=True)
        private = Path(tempfile.mkdtemp(prefix=f".{run}.", dir=root))
        try:
            train(private)
            if not (private / final).is_file():
                raise RuntimeError(f"training finished without writing {final}")
        except BaseException:
            shutil.rmtree(private, ignore_errors=True)
            raise
        if folder.exists():  # --retrain, or a folder without a finished run (never reused)
            shutil.rmtree(folder)
        private.rename(folder)
        return folder, True
    finally:
        lock.release()
