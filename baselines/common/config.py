"""Training configs: pydantic dataclasses read from YAML, with `key.sub=value` overrides from the command line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from harness.errors import BadInput, first_validation_error

STRICT = ConfigDict(extra="forbid")
T = TypeVar("T")


@dataclass(config=STRICT)
class StageConfig:
    """One optimisation stage: SGD with momentum (or Adam, or RMSProp) and step decay of the learning rate at
    milestones (epochs)."""

    epochs: int = 1
    batch_size: int = 128  # the global batch: under torchrun each of N processes takes batch_size / N
    optimizer: Literal["sgd", "adam", "rmsprop"] = "sgd"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD
    adam_betas: tuple[float, float] = (0.9, 0.999)  # Adam
    weight_decay: float = 5e-4
    lr_milestones: list[int] = dataclasses.field(default_factory=list)
    lr_gamma: float = 0.5
    max_steps: int | None = None  # stop the stage after this many optimiser steps (timing runs, smoke tests)
    recalibrate_bn: bool = False  # re-estimate BatchNorm statistics on the training inputs after the stage


@dataclass(config=STRICT)
class AdamStageConfig(StageConfig):
    """A stage optimised with Adam and no weight decay."""

    optimizer: Literal["sgd", "adam", "rmsprop"] = "adam"
    weight_decay: float = 0.0


@dataclass(config=STRICT)
class DataConfig:
    """Which split trains the baseline and how its 2D is normalised."""

    dataset: str = "h36m"
    source: str = "gt"  # 2D source to train on
    train_frames: int | None = None  # keep this many evenly spaced training samples (smoke and demo runs)
    scale_from: Literal["train", "split"] = "train"  # a test split's 2D scale: the training one, or its own
    head_distance: float = 0.2  # the 2D root-to-head distance after normalisation


@dataclass(config=STRICT)
class RunConfig:
    """What every baseline's top-level config holds besides its stages."""

    name: str = "paper"
    seed: int = 0
    device: str = "auto"  # cuda when present, else cpu
    bf16: bool = True  # bf16 autocast of the networks on CUDA (what stays float32: baselines/README.md, Devices)
    autocast_cpu: bool = False  # bf16 autocast on the CPU as well: for tests of the mixed-precision path, off in every shipped config
    data_on_device: bool | Literal["auto"] = "auto"  # hold the training tensors on the device and batch there; auto: on CUDA only
    compile: Literal["default", "reduce-overhead", "max-autotune"] | None = None  # torch.compile each stage's step model in this mode (reduce-overhead adds CUDA graphs); None: eager
    threads: Annotated[int, Field(ge=1)] | None = None  # CPU intra-op threads; None: OMP_NUM_THREADS if set, else the idle CPUs (baselines/common/threads.py)
    eval_every_epoch: bool = False  # score the test split on the harness after every epoch (ITES: both stages; NLRD-2D: target adaptation)
    pelvis_head_mm: float = 720.0  # prior pelvis-to-head (joint 10) length that sets the metric scale of unit-less output


def test_scale(data: DataConfig, train_scale: float, dataset: str) -> float | None:
    """The 2D scale for a test split of `dataset`: the training split's (same dataset, `scale_from: train`), or
    None for the split's own."""
    return train_scale if data.scale_from == "train" and dataset == data.dataset else None


def _set(tree: dict[str, Any], dotted: str, raw: str, label: str) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise BadInput(f"{label}: '{dotted}': '{key}' is a value, not a section")
        node = child
    try:
        node[keys[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise BadInput(f"--set {dotted}={raw}: the value is not valid YAML ({str(exc).splitlines()[0]})") from None


def load_config(cls: type[T], path: Path | None, overrides: list[str] = ()) -> T:
    """`cls` from the YAML file (or its defaults) with `key.sub=value` overrides; one-line errors naming the key."""
    tree: dict[str, Any] = {}
    label = str(path) if path else cls.__name__
    if path is not None:
        if not path.is_file():
            raise BadInput(f"{path}: config file not found")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(loaded, dict | None):
            raise BadInput(f"{path}: expected a mapping of config keys")
        tree = loaded or {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise BadInput(f"--set {item}: expected KEY=VALUE (e.g. teacher.epochs=2)")
        _set(tree, key.strip(), raw, label)
    try:
        return TypeAdapter(cls).validate_python(tree)
    except ValidationError as exc:
        raise BadInput(f"{label}: {first_validation_error(exc)}") from None


def as_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def config_hash(config: Any) -> str:
    """A short digest of every setting: two runs with the same hash train the same thing."""
    return hashlib.sha256(json.dumps(as_dict(config), sort_keys=True).encode()).hexdigest()[:12]
