"""The `harness evaluate --model` path: the factory's options, the confined model run with its progress bar,
and the in-memory submission it yields (scored afterwards exactly like a file)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.errors import BadInput
from harness.runner import ModelProcess
from harness.sandbox import Limits, bwrap

if TYPE_CHECKING:  # the loaders and pandas are imported once the model process has started
    from harness.config import DatasetsConfig
    from harness.datasets.base import TestSet
    from harness.submission import Submission


def factory_options(items: list[str]) -> dict[str, str]:
    """--option KEY=VALUE pairs; a value naming an existing file or folder becomes absolute (the model runs elsewhere)."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise BadInput(f"--option {item}: expected KEY=VALUE with KEY a Python identifier")
        options[key] = str(Path(value).resolve()) if value and Path(value).exists() else value
    return options


@dataclass
class ModelRequest:
    """What `evaluate --model` was asked to run, and how."""

    spec: str
    dataset: str | None
    source: str | None
    device: str
    batch_size: int
    timeout_s: float
    memory_gb: float
    meta_file: Path | None
    options: dict[str, str]
    sandbox: bool


def run_model(request: ModelRequest, config: DatasetsConfig, console: Console, store_file: Path | None) -> tuple[Submission, TestSet]:
    """Run the model on the dataset's 2D inputs (in the sandbox unless told otherwise; `store_file`, a database
    file it must not see) and return its predictions as a submission, with the test set they are scored on."""
    spec, dataset, source = request.spec, request.dataset, request.source
    if dataset is None or source is None:
        raise BadInput("--model needs --dataset and --input-2d")
    if request.sandbox:
        bwrap()  # one line with the install hint where bubblewrap is missing
    entry = config.entry(dataset)
    if source not in entry.sources_2d():
        have = ", ".join(entry.sources_2d()) or "none configured"
        raise BadInput(f"--input-2d: no 2D source '{source}' for {dataset} (have: {have}; a file source is added under inputs_2d in {config.file})")
    # The 2D source's name tells the model the input's layout (3DPW's poses2d: (T, 18, 3) COCO-18 with confidence).
    env = {"POSEBENCH_DEVICE": request.device, "POSEBENCH_BATCH_SIZE": str(request.batch_size), "POSEBENCH_INPUT_2D": source}
    hidden = [config.data_root, *(e.path for e in config.datasets.values()), *([store_file] if store_file else [])]
    # The model process starts first and imports the model while the harness imports its loaders and loads the data.
    with ModelProcess(spec, Limits(request.timeout_s, request.memory_gb), env_extra=env, options=request.options, sandbox=request.sandbox, hidden=hidden) as proc:
        from harness.datasets import load_dataset
        from harness.submission import from_predictions

        test = load_dataset(config, dataset, inputs_2d=[source] if source in entry.inputs_2d else [])
        ends = np.cumsum(test.sequences["length"].to_numpy())
        started = time.monotonic()
        columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[fps]} frames/s"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(f"running {spec} on {dataset} ({len(test)} frames)", total=len(test.sequences), fps="-")

            def advance(done: int, total: int) -> None:
                frames = int(ends[done - 1]) if done else 0
                bar.update(task, completed=done, fps=f"{frames / max(time.monotonic() - started, 1e-6):.0f}")

            run = proc.run(test, source, progress=advance)
    if not request.sandbox:
        console.print("note: --no-sandbox: the model ran with resource limits only; its result is never stored as verified")
    meta = run.meta
    if request.meta_file is not None:
        meta = {**meta, **_meta_file(request.meta_file)}
    sub = from_predictions(spec, test, run.predictions, {**meta, "input_2d": source})  # the harness's own facts win over the model's claims
    sub.isolation = run.isolation
    return sub, test


def _meta_file(path: Path) -> dict:
    if not path.is_file():
        raise BadInput(f"{path}: --meta file not found")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise BadInput(f"{path}: expected a mapping of method fields")
    return loaded
