"""What `harness baseline train|predict` do: train a baseline from a config, or write a submission from a run."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from baselines.common.config import config_hash, load_config
from baselines.common.data import load_split, pose_split
from baselines.common.evaluation import as_submission
from baselines.common.threads import use_cpu_threads
from baselines.registry import config_file, module
from harness.config import DatasetsConfig
from harness.datasets.base import TestSet
from harness.errors import BadInput
from harness.submission import Submission


def load_baseline_config(name: str, config: str, overrides: list[str]) -> Any:
    mod = module(name)
    return load_config(mod.CONFIG, config_file(name, config), overrides)


def default_folder(name: str, cfg: Any) -> Path:
    """runs/<baseline>-<config name>-<hash of every setting>."""
    return Path("runs") / f"{name}-{cfg.name}-{config_hash(cfg)}"


def train(name: str, cfg: Any, folder: Path, datasets: DatasetsConfig) -> Path:
    return module(name).train(cfg, folder, datasets)


def predict(
    name: str, checkpoint: Path, datasets: DatasetsConfig, dataset: str, source: str | None, stage: str | None, device: str = "cpu", threads: int | None = None,
) -> tuple[Submission, TestSet]:
    """The trained model's predictions for a dataset's test split, as a submission (H36M-17 joints, mm), and the
    split; `stage` None is the baseline's final network; `threads` None takes the run's own setting."""
    mod = module(name)
    if not checkpoint.is_file():
        raise BadInput(f"{checkpoint}: checkpoint not found (train one with `harness baseline train {name}`)")
    stage = stage or mod.DEFAULT_STAGE
    if stage not in mod.STAGES:
        raise BadInput(f"--stage {stage}: {name} has the stages {', '.join(mod.STAGES)}")
    trained = mod.Trained.load(checkpoint, device)
    use_cpu_threads(threads or trained.cfg.threads)
    source = source or trained.cfg.data.source
    test = load_split(datasets, dataset, "test", source)
    pred = trained.predict(pose_split(test, source, trained.test_scale(dataset), trained.cfg.data.head_distance), stage)
    meta = dict(importlib.import_module(f"baselines.{name}").POSEBENCH_META)
    demo = " (demo data)" if test.is_demo else ""
    meta |= trained.training_meta() | {"input_2d": source, "stage": stage}
    meta["training_data"] += demo
    return as_submission(str(checkpoint), test, pred, "h36m17", meta), test
