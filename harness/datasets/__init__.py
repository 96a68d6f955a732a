"""Dataset loaders: released files in, `TestSet` out."""

from __future__ import annotations

from collections.abc import Sequence

from pathlib import Path

from harness.config import DatasetConfig, DatasetsConfig
from harness.datasets.base import TestSet
from harness.errors import DatasetUnavailable

__all__ = ["TestSet", "load_dataset", "main_file"]

# The file whose presence means a copy of the dataset is there, per format with a loader.
_MAIN_FILES = {"videopose3d": "data_3d_h36m.npz", "mpi_inf_3dhp_test": "TS1/annot_data.mat", "3dpw": "sequenceFiles/test"}


def main_file(entry: DatasetConfig) -> Path | None:
    """The file a dataset entry needs first (None for formats without a loader in this version)."""
    name = _MAIN_FILES.get(entry.format)
    return None if name is None else Path(entry.path) / name


def load_dataset(config: DatasetsConfig, name: str, split: str = "test", inputs_2d: Sequence[str] = (), gt: str | None = None) -> TestSet:
    """Load dataset `name` as configured in datasets.yaml (`gt` picks a ground-truth variant where there are several)."""
    entry = config.entry(name)
    if entry.format == "videopose3d":
        from harness.datasets.h36m import load_h36m

        return load_h36m(entry, split=split, inputs_2d=inputs_2d)
    if entry.format == "mpi_inf_3dhp_test":
        from harness.datasets.mpi_inf_3dhp import load_mpi_inf_3dhp

        if split != "test":
            raise DatasetUnavailable(f"{config.file}: datasets.{name}: only the MPI-INF-3DHP test set is read in this version")
        return load_mpi_inf_3dhp(entry)
    if entry.format == "3dpw":
        from harness.datasets.pw3d import load_3dpw

        return load_3dpw(entry, split=split, gt=gt)
    raise DatasetUnavailable(f"{config.file}: datasets.{name}: format '{entry.format}' has no loader in this version")
