"""Reading a finished baseline run (`<method>.pt`) back: one-line errors for anything that is not one."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, TypeVar

import torch
from pydantic import TypeAdapter, ValidationError

from harness.errors import BadInput, first_validation_error

T = TypeVar("T")


def read_run(path: Path, method: str, config_cls: type[T], device: torch.device | str = "cpu") -> tuple[dict[str, Any], T]:
    """The saved state of a finished `method` run and its config; BadInput naming the file and key otherwise."""
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise BadInput(f"{path}: not a readable checkpoint ({type(exc).__name__})") from None
    found = state.get("method") if isinstance(state, dict) else None
    if found != method:
        raise BadInput(f"{path}: key 'method': expected a finished '{method}' run, got {found!r}")
    try:
        return state, TypeAdapter(config_cls).validate_python(state["config"])
    except (KeyError, ValidationError) as exc:
        detail = first_validation_error(exc) if isinstance(exc, ValidationError) else "missing"
        raise BadInput(f"{path}: key 'config': {detail}") from None
