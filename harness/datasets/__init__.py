"""Dataset loaders: released files in, `TestSet` out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harness.config import DatasetConfig, DatasetsConfig
from harness.datasets.base import TestSet
from harness.errors import DatasetUnavailable, HarnessError

__all__ = ["TestSet", "availability", "load_dataset", "main_file"]

# The file whose presence means a copy of the dataset is there, per format with a loader.
_MAIN_FILES = {"videopose3d": "data_3d_h36m.npz", "mpi_inf_3dhp_test": "TS1/annot_data.mat", "3dpw": "sequenceFiles/test"}


def main_file(entry: DatasetConfig) -> Path | None:
    """The file (or, for 3DPW, the folder of sequence files) a dataset entry needs first (None for formats
    without a loader in this version)."""
    name = _MAIN_FILES.get(entry.format)
    return None if name is None else Path(entry.path) / name


def availability(entry: DatasetConfig) -> str:
    """'yes', or why a dataset entry cannot be loaded, as `harness list datasets` shows it."""
    needed = main_file(entry)
    if needed is None:
        return "no loader yet"
    if entry.format == "3dpw":
        return "yes" if needed.is_dir() and any(needed.glob("*.pkl")) else f"no (no {needed.name}/*.pkl)"
    return "yes" if needed.is_file() else f"no ({needed.name} missing)"


def load_dataset(config: DatasetsConfig, name: str, split: str = "test", inputs_2d: Sequence[str] = (), gt: str | None = None) -> TestSet:
    """Load dataset `name` as configured in datasets.yaml (`gt` picks a ground-truth variant where there are several).

    A copy whose files hold something the loader cannot use (wrong types or shapes, non-finite ground truth) is
    'not available' (exit 3) with one line naming it, whatever the loader tripped on."""
    entry = config.entry(name)
    try:
        test = _load(config, name, entry, split, inputs_2d, gt)
    except HarnessError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OSError, EOFError) as exc:
        raise DatasetUnavailable(f"{entry.path}: the {name} files cannot be used ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'})") from exc  # --debug shows where
    bad = ~np.isfinite(test.gt3d).all(axis=(1, 2))
    if bad.any():
        raise DatasetUnavailable(f"{entry.path}: the {name} ground truth is not finite at {int(bad.sum())} sample(s), first {test.sample_id[np.argmax(bad)]}")
    return test


def _load(config: DatasetsConfig, name: str, entry: DatasetConfig, split: str, inputs_2d: Sequence[str], gt: str | None) -> TestSet:
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
