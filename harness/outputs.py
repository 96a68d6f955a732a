"""Writing output files: never replace one without --force, never leave a half-written one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from harness.errors import BadInput


def check_new(path: Path, force: bool) -> None:
    """Refuse to touch an existing file unless `force`."""
    if Path(path).exists() and not force:
        raise BadInput(f"{path}: already exists; pass --force to overwrite it")


def write_atomic(path: Path, write: Callable[[IO[bytes]], None], force: bool = False) -> None:
    """Write through a temporary file in the same folder, then rename it over `path`."""
    path = Path(path)
    check_new(path, force)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        raise BadInput(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None and Path(tmp).exists():
            Path(tmp).unlink()
