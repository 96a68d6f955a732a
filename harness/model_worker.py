"""The child process that runs an untrusted model entrypoint over one benchmark's 2D inputs.

Started by harness.runner as `python -I -m harness.model_worker WORKDIR SPEC SEARCH_PATH DONE_FD OPTIONS_JSON`,
before the data is loaded: it imports the model, calls the factory with the options as keyword arguments,
then waits for `manifest.json`. It sees only the work folder: the
manifest (sequence ids, start rows, lengths, intrinsics, joint set) and `in.npy`, the 2D keypoints of every
sequence. It writes each sequence's (T, J, 3) prediction into its rows of `out.npy` (a `.npy` the harness
made, never a pickle) and one byte to DONE_FD. On a failure it writes `error.json` naming the sequence and
exits 3.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable


class ContractError(Exception):
    """The model returned something other than what the contract asks for."""


class SpecError(Exception):
    """The --model spec names no module or no factory that exists (the user's spelling, not the model's fault)."""


def load_factory(spec: str, search_path: str) -> tuple[Callable[[], Any], Any]:
    """`path/to/model.py:factory` or `package.module:factory` (the harness checked the spelling)."""
    target, _, name = spec.rpartition(":")
    sys.path.insert(0, search_path)
    if target.endswith(".py"):
        path = Path(target) if Path(target).is_absolute() else Path(search_path) / target
        module_spec = importlib.util.spec_from_file_location("posebench_model", path)
        if module_spec is None or module_spec.loader is None:
            raise SpecError(f"{target} cannot be loaded as a Python file")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            if exc.name is None or not target.startswith(exc.name):
                raise  # a module the model itself imports is missing: the model's own error
            raise SpecError(f"no module named '{exc.name}' in the current folder or the installed packages") from None
    factory = getattr(module, name, None)
    if not callable(factory):
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_") and getattr(v, "__module__", None) == module.__name__)
        raise SpecError(f"{target} defines no factory '{name}' (its functions and classes: {', '.join(defined) or 'none'})")
    return factory, module


def main(workdir: str, spec: str, search_path: str, done_fd: str, options: str = "{}") -> int:
    import numpy as np

    work = Path(workdir)
    current = "(loading the model)"
    try:
        factory, module = load_factory(spec, search_path)
        model = factory(**json.loads(options))
        meta = getattr(module, "POSEBENCH_META", {}) | getattr(model, "posebench_meta", {})  # the model's own words win
        (work / "meta.json").write_text(json.dumps(meta))
        while not (work / "manifest.json").exists():  # the harness is still loading the data
            time.sleep(0.005)
        manifest = json.loads((work / "manifest.json").read_text())
        kp = np.load(work / "in.npy", mmap_mode="r", allow_pickle=False)
        out = np.load(work / "out.npy", mmap_mode="r+", allow_pickle=False)
        for seq in manifest["sequences"]:
            current, start, length = seq["id"], seq["start"], seq["length"]
            pred = np.asarray(model(np.array(kp[start : start + length]), seq["intrinsics"], manifest["joint_set"], seq["id"]))
            expected = (length, *out.shape[1:])
            if pred.dtype.kind != "f":
                raise ContractError(f"returned dtype {pred.dtype}, expected floats")
            if pred.shape != expected:
                raise ContractError(f"returned shape {pred.shape}, expected {expected}")
            out[start : start + length] = pred
            os.write(int(done_fd), b".")
        out.flush()
    except BaseException as exc:  # everything the model does wrong is reported, never raised into the harness
        if isinstance(exc, (ContractError, SpecError)):
            kind, text = ("contract" if isinstance(exc, ContractError) else "spec"), str(exc)
        else:
            kind, text = "raised", f"{type(exc).__name__}: {exc}"
        (work / "error.json").write_text(json.dumps({"sequence": current, "kind": kind, "error": text[:500]}))
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
