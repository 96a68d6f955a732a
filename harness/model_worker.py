"""The child process that runs an untrusted model entrypoint over one benchmark's 2D inputs.

Started by harness.runner as `python -I -m harness.model_worker WORKDIR SPEC SEARCH_PATH`, before the data is
loaded: it imports the model, then waits for `manifest.json`. It sees only the work folder: the manifest
(sequence ids, intrinsics, joint set) and `in/<k>.npy` 2D keypoints; it writes
`out/<k>.npy` predictions (never pickles), one per sequence as it goes. On a failure it writes `error.json`
naming the sequence and exits 3.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable


def load_factory(spec: str, search_path: str) -> tuple[Callable[[], Any], Any]:
    """`path/to/model.py:factory` or `package.module:factory`."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ValueError(f"model spec {spec!r}: expected MODULE_OR_FILE:FACTORY")
    sys.path.insert(0, search_path)
    if target.endswith(".py"):
        path = Path(target) if Path(target).is_absolute() else Path(search_path) / target
        module_spec = importlib.util.spec_from_file_location("posebench_model", path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, name), module


def main(workdir: str, spec: str, search_path: str) -> int:
    import numpy as np

    work = Path(workdir)
    current = "(loading the model)"
    try:
        factory, module = load_factory(spec, search_path)
        (work / "meta.json").write_text(json.dumps(getattr(module, "POSEBENCH_META", {})))
        model = factory()
        while not (work / "manifest.json").exists():  # the harness is still loading the data
            time.sleep(0.005)
        manifest = json.loads((work / "manifest.json").read_text())
        (work / "out").mkdir(exist_ok=True)
        for k, seq in enumerate(manifest["sequences"]):
            current = seq["id"]
            kp2d = np.load(work / "in" / f"{k:05d}.npy", allow_pickle=False)
            pred = np.asarray(model(kp2d, seq["intrinsics"], manifest["joint_set"], seq["id"]))
            if pred.dtype.kind != "f":
                raise TypeError(f"returned dtype {pred.dtype}, expected floats")
            np.save(work / "out" / f"{k:05d}.npy", pred.astype(np.float32), allow_pickle=False)
    except BaseException as exc:  # everything the model does wrong is reported, never raised into the harness
        (work / "error.json").write_text(json.dumps({"sequence": current, "error": f"{type(exc).__name__}: {exc}"[:500]}))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
