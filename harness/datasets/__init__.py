"""Dataset loaders: released files in, `TestSet` out."""

from __future__ import annotations

from collections.abc import Sequence

from harness.config import DatasetsConfig
from harness.datasets.base import TestSet
from harness.errors import DatasetUnavailable

__all__ = ["TestSet", "load_dataset"]


def load_dataset(config: DatasetsConfig, name: str, split: str = "test", inputs_2d: Sequence[str] = ()) -> TestSet:
    """Load dataset `name` as configured in datasets.yaml."""
    entry = config.entry(name)
    if entry.format == "videopose3d":
        from harness.datasets.h36m import load_h36m

        return load_h36m(entry, split=split, inputs_2d=inputs_2d)
    raise DatasetUnavailable(f"{config.file}: datasets.{name}: format '{entry.format}' has no loader in this version")
