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


class Verdict(BaseModel):
    """A claim about the method that the pinned run must keep showing: on `benchmark`'s `metric` (an error,
    lower is better), `stage` scores at most `ratio` times what `than` scores (below 1: `stage` wins)."""

    model_config = ConfigDict(extra="forbid")

    says: str  # the claim in words, printed with its outcome
    stage: str
    than: str
    benchmark: str
    metric: str
    ratio: float = Field(gt=0)


class Pinned(BaseModel):
    """One pinned run: the baseline (by default the entry's own name), config, data, the expected metrics per
    stage and benchmark, and the verdicts it must keep."""

    model_config = ConfigDict(extra="forbid")

    baseline: str | None = None
    config: str
    dataset: str = "h36m"
    input_2d: str = "gt"
    expected: dict[str, dict[str, dict[str, Pin]]]  # stage -> benchmark -> metric -> pin
    verdicts: list[Verdict] = []

    def scored(self) -> dict[str, set[str]]:
        """stage -> the benchmarks its pins and verdicts read."""
        out: dict[str, set[str]] = {stage: set(benches) for stage, benches in self.expected.items()}
        for v in self.verdicts:
            for stage in (v.stage, v.than):
                out.setdefault(stage, set()).add(v.benchmark)
        return out


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


@dataclass
class Judged:
    verdict: Verdict
    value: float  # the stage's metric
    than: float  # the other stage's

    @property
    def ok(self) -> bool:
        return self.value <= self.verdict.ratio * self.than


def load_reference(path: Path = REFERENCE) -> dict[str, Pinned]:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return {name: Pinned.model_validate({"baseline": name} | entry) for name, entry in raw.items()}
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
    baseline = pinned.baseline or name
    cfg = load_baseline_config(baseline, pinned.config, [])
    if cfg.threads is None:
        raise BadInput(f"{baseline} config '{pinned.config}': a pinned run must fix `threads` (its figures depend on the thread count)")
    where = run_folder(baseline, cfg, pinned, datasets, cache_dir)
    folder, trained = cached_run(where.parent, where.name, module(baseline).FINAL, lambda private: train(baseline, cfg, private, datasets), retrain, say)
    final = folder / module(baseline).FINAL
    measured: dict[str, dict[str, dict[str, float]]] = {}
    for stage, benches in pinned.scored().items():
        sub, test = predict(baseline, final, datasets, pinned.dataset, pinned.input_2d, stage)
        result = score(sub, test, datasets, sorted(benches))
        measured[stage] = {b: headline(result, b) for b in benches}
    return folder, trained, measured


def checks(name: str, pinned: Pinned, measured: dict[str, dict[str, dict[str, float]]]) -> list[Check]:
    return [
        Check(name, stage, bench, metric, pin.value, measured[stage][bench][metric], pin.tolerance)
        for stage, benches in pinned.expected.items()
        for bench, metrics in benches.items()
        for metric, pin in metrics.items()
    ]


def judged(pinned: Pinned, measured: dict[str, dict[str, dict[str, float]]]) -> list[Judged]:
    return [Judged(v, measured[v.stage][v.benchmark][v.metric], measured[v.than][v.benchmark][v.metric]) for v in pinned.verdicts]
