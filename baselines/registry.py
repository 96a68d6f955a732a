"""The baselines the harness knows, by name, and where their configs live."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from harness.errors import BadInput

# name -> the module holding CONFIG, STAGES, DEFAULT_STAGE, train() and Trained
BASELINES: dict[str, str] = {"ites": "baselines.ites.train", "posenet3d": "baselines.posenet3d.train", "nlrd": "baselines.nlrd.train"}


def module(name: str) -> ModuleType:
    if name not in BASELINES:
        raise BadInput(f"unknown baseline '{name}'; known: {', '.join(BASELINES)}")
    return importlib.import_module(BASELINES[name])


def config_file(name: str, value: str) -> Path:
    """A config given as a path, or as the name of one of the baseline's own (`paper`, `demo`, `smoke`)."""
    path = Path(value)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    own = Path(importlib.import_module(f"baselines.{name}").__file__).parent / "configs" / f"{value}.yaml"
    if not own.is_file():
        known = sorted(p.stem for p in own.parent.glob("*.yaml"))
        raise BadInput(f"--config {value}: neither a file nor one of {name}'s configs ({', '.join(known)})")
    return own
