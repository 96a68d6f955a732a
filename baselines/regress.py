"""`harness regress`: retrain each baseline's pinned demo run (or reuse the run cached under its config hash),
score it on the harness, and compare with `reference.yaml`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from baselines.commands import load_baseline_config, predict, train
from baselines.common.config import config_hash
from baselines.common.evaluation import headline, score
from baselines.registry import module
from baselines.run_cache import cache_root, cached_run, inputs_digest
from harness.config import DatasetsConfig
from harness.datasets.h36m import DEMO_MARKER
from harness.errors import BadInput, DatasetUnavailable, first_validation_error

REFERENCE = Path(__file__).with_name("reference.yaml")


class Pin(BaseModel):
    """One pinned frame-mean metric and how far it may move, both in the metric's unit."""

    model_config = ConfigDict(extra="forbid")

    value: float
    tolerance: float = Field(gt=0)


class Pinned(BaseModel):
    """One baseline's pinned run: config, data and the expected metrics per stage and benchmark."""

    model_config = ConfigDict(extra="forbid")

    config: str
    dataset: str = "h36m"
    input_2d: str = "gt"
    expected: dict[str, dict[str, dict[str, Pin]]]  # stage -> benchmark -> metric -> pin


@dataclass
class Check:
    baseline: str
    stage: str
    benchmark: str
    metric: str
    reference: float
    measured: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return abs(self.measured - self.reference) <= self.tolerance


def load_reference(path: Path = REFERENCE) -> dict[str, Pinned]:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return {name: Pinned.model_validate(entry) for name, entry in raw.items()}
    except (OSError, yaml.YAMLError) as exc:
        raise BadInput(f"{path}: unreadable ({exc})") from None
    except ValidationError as exc:
        raise BadInput(f"{path}: {first_validation_error(exc)}") from None


def demo_files(pinned: Pinned, datasets: DatasetsConfig) -> list[Path]:
    """The files of the pinned dataset, which must be the built-in demo data the pins describe."""
    folder = datasets.entry(pinned.dataset).path
    if not folder.is_dir():
        raise DatasetUnavailable(f"{folder}: no such folder; the pins describe the built-in demo data: run `harness demo`")
    if not (folder / DEMO_MARKER).is_file():
        raise BadInput(f"{folder}: not the built-in demo data (no {DEMO_MARKER}); the pins describe the demo data: run `harness demo` and use a datasets.yaml that points {pinned.dataset} at it")
    return [f for f in folder.iterdir() if f.is_file()]


def run_folder(name: str, cfg: object, pinned: Pinned, datasets: DatasetsConfig, cache_dir: Path | None = None) -> Path:
    """Where the cache keeps the finished run of `cfg`: named by its config, the code and the data."""
    return cache_root(cache_dir) / f"{name}-{cfg.name}-{config_hash(cfg)}-{inputs_digest(demo_files(pinned, datasets))}"


def measure(
    name: str, pinned: Pinned, datasets: DatasetsConfig, retrain: bool = False, cache_dir: Path | None = None, say: Callable[[str], None] = print,
) -> tuple[Path, bool, dict[str, dict[str, dict[str, float]]]]:
    """Train (or reuse) the pinned run and score every stage on every pinned benchmark; returns its folder and
    whether this call trained it too."""
    cfg = load_baseline_config(name, pinned.config, [])
    if cfg.threads is None:
        raise BadInput(f"{name} config '{pinned.config}': a pinned run must fix `threads` (its figures depend on the thread count)")
    where = run_folder(name, cfg, pinned, datasets, cache_dir)
    folder, trained = cached_run(where.parent, where.name, module(name).FINAL, lambda private: train(name, cfg, private, datasets), retrain, say)
    final = folder / module(name).FINAL
    measured: dict[str, dict[str, dict[str, float]]] = {}
    for stage, benches in pinned.expected.items():
        sub, test = predict(name, final, datasets, pinned.dataset, pinned.input_2d, stage)
        result = score(sub, test, datasets, list(benches))
        measured[stage] = {b: headline(result, b) for b in benches}
    return folder, trained, measured


def checks(name: str, pinned: Pinned, measured: dict[str, dict[str, dict[str, float]]]) -> list[Check]:
    return [
        Check(name, stage, bench, metric, pin.value, measured[stage][bench][metric], pin.tolerance)
        for stage, benches in pinned.expected.items()
        for bench, metrics in benches.items()
        for metric, pin in metrics.items()
    ]
