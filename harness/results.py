"""The result JSON (schema_version 1): pydantic models, reading and safe writing."""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness import __version__
from harness.errors import BadInput, first_validation_error
from harness.outputs import write_atomic

SCHEMA_VERSION = 1


class ResultEntry(BaseModel):
    """One (benchmark, metric, aggregation) value with every protocol field that defines it."""

    benchmark: str
    metric: str
    value: float = Field(allow_inf_nan=False)
    unit: str
    higher_is_better: bool
    n_samples: int
    ci95: tuple[float, float] | None
    joints: str
    alignment: str
    aggregation: Literal["frame-mean", "action-mean", "sequence-mean"]
    gt: str
    dataset: str
    split: str
    frames: str
    root: str
    demo: bool = False


class SubmissionInfo(BaseModel):
    file: str
    sha256: str
    n_samples: int
    dataset: str
    units: str
    joint_set: str


class MethodInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str | None = None
    supervision: str | None = None
    input_2d: str | None = None
    paper: str | None = None
    code: str | None = None
    training_data: str | None = None


class TakeSums(BaseModel):
    """Per-take sums and counts of every per-frame metric: what paired comparisons resample."""

    take: list[str]
    group: list[str]
    counts: dict[str, list[int]]
    sums: dict[str, list[float]]

    @model_validator(mode="after")
    def _same_lengths(self) -> "TakeSums":
        n = len(self.take)
        if len(self.group) != n or any(len(v) != n for v in (*self.counts.values(), *self.sums.values())):
            raise ValueError(f"every per-take list must have one entry per take ({n})")
        if set(self.counts) != set(self.sums):
            raise ValueError("counts and sums must cover the same metrics")
        return self


class PckCurve(BaseModel):
    pck_thresholds_mm: list[float]
    pck: list[float]


class WorstFrame(BaseModel):
    """One of a submission's worst frames: root-centred prediction and ground truth, for looking at."""

    sample_id: str
    mpjpe: float
    joint_set: str
    pred: list[list[float]]
    gt: list[list[float]]


class Breakdown(BaseModel):
    """Metric values per group of frames: H36M actions, 3DHP sequences and activities, joints."""

    per_action: dict[str, dict[str, float]] = {}
    per_sequence: dict[str, dict[str, float]] = {}
    per_activity: dict[str, dict[str, float]] = {}
    per_joint: dict[str, dict[str, float]] = {}


class ResultWarning(BaseModel):
    """A likely mistake in the submission that did not stop scoring, e.g. left and right swapped."""

    code: Literal["joint-order"]
    benchmark: str
    message: str
    joints: list[str] = []  # the joints it names, in the benchmark's joint set


class ResultFile(BaseModel):
    """Everything `harness evaluate` says about one submission."""

    schema_version: Literal[1] = SCHEMA_VERSION
    harness_version: str = __version__
    created_at: str
    submission: SubmissionInfo
    method: MethodInfo
    results: list[ResultEntry]
    breakdowns: dict[str, Breakdown] = {}
    curves: dict[str, PckCurve] = {}
    per_take: dict[str, TakeSums] = {}
    worst_frames: dict[str, list[WorstFrame]] = {}
    missing: dict[str, list[str]] = {}
    notes: dict[str, list[str]] = {}
    warnings: list[ResultWarning] = []
    environment: dict[str, str] = {}

    def entry(self, benchmark: str, metric: str, aggregation: str | None = None) -> ResultEntry:
        """The entry for a benchmark and metric (its first aggregation unless one is named)."""
        for e in self.results:
            if e.benchmark == benchmark and e.metric == metric and aggregation in (None, e.aggregation):
                return e
        raise KeyError(f"no result for {benchmark}/{metric}/{aggregation or 'any'}")


def environment() -> dict[str, str]:
    """Versions that can change a number; torch is read from its metadata, never imported."""
    env = {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(), "device": "cpu"}
    for package in ("scipy", "torch"):
        try:
            env[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            env[package] = "not installed"
    return env


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_result(result: ResultFile, path: Path, force: bool = False) -> None:
    """Write the JSON atomically; refuse to replace an existing file unless `force`."""
    write_atomic(path, lambda fh: fh.write(result.model_dump_json(indent=1).encode()), force)


def read_result(path: Path) -> ResultFile:
    """Load and validate a result JSON; one-line errors for missing or malformed files."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: result file not found")
    try:
        return ResultFile.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise BadInput(f"{path}: {first_validation_error(exc)}") from None
