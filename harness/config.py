"""`datasets.yaml`: where each dataset lives, with `${VAR:-default}` and `${data_root}` expansion."""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from harness.errors import BadInput, DatasetUnavailable, first_validation_error

DATASETS_ENV = "POSEBENCH_DATASETS"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# 2D sources a format reads from its own files (3DPW: its sequence pickles; 3DHP: annot2 of annot_data.mat),
# never listed under `inputs_2d`.
BUILTIN_INPUTS_2D: dict[str, tuple[str, ...]] = {"3dpw": ("poses2d", "gt"), "mpi_inf_3dhp_test": ("gt",)}


class DatasetConfig(BaseModel):
    """One dataset entry of datasets.yaml."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["videopose3d", "mpi_inf_3dhp_test", "3dpw"]
    path: Path
    inputs_2d: dict[str, str] = {}
    gt: str | None = None  # MPI-INF-3DHP: univ_annot3 (default) or annot3
    smpl_model_dir: Path | None = None

    @model_validator(mode="after")
    def _no_files_for_builtin_sources(self) -> DatasetConfig:
        builtin = BUILTIN_INPUTS_2D.get(self.format)
        if builtin and self.inputs_2d:
            raise ValueError(f"inputs_2d: format {self.format} reads its 2D sources ({', '.join(builtin)}) from its own files; remove inputs_2d")
        return self

    def sources_2d(self) -> list[str]:
        """Every 2D source of this entry: the format's built-in ones, then the configured files."""
        return [*BUILTIN_INPUTS_2D.get(self.format, ()), *self.inputs_2d]

    def present_inputs_2d(self) -> list[str]:
        """The 2D sources whose files exist: the configured files found, and the built-in sources (present with the dataset)."""
        return [*BUILTIN_INPUTS_2D.get(self.format, ()), *(source for source, name in self.inputs_2d.items() if (self.path / name).is_file())]


class DatasetsConfig(BaseModel):
    """The whole datasets.yaml, paths expanded."""

    model_config = ConfigDict(extra="forbid")

    data_root: Path
    datasets: dict[str, DatasetConfig]
    file: str = "<packaged default>"

    def entry(self, name: str) -> DatasetConfig:
        """The entry of dataset `name`; unknown names are 'not available' (exit 3)."""
        if name not in self.datasets:
            raise DatasetUnavailable(f"{self.file}: no dataset '{name}' configured (have: {', '.join(self.datasets) or 'none'})")
        return self.datasets[name]


def _expand(text: str, names: dict[str, str], label: str, where: str) -> str:
    """Expand `${VAR}` / `${VAR:-default}` from `names`, then the environment; an unset VAR without default is an error."""

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = names.get(name, os.environ.get(name))
        if value:
            return value
        if default is None:
            raise BadInput(f"{label}: {where}: ${{{name}}} is not set and has no default (write ${{{name}:-default}})")
        return default

    return os.path.expanduser(_VAR.sub(sub, text))


def _resolve(path: str, base: Path | None) -> str:
    """Relative paths in a datasets file are relative to that file's folder."""
    return str(base / path) if base is not None and not Path(path).is_absolute() else path


def config_file(explicit: Path | None = None) -> tuple[Path | None, str]:
    """(path, text) of the datasets file: explicit, else $POSEBENCH_DATASETS, else ./datasets.yaml, else the
    packaged default (path None)."""
    chosen = explicit if explicit is not None else (Path(os.environ[DATASETS_ENV]) if os.environ.get(DATASETS_ENV) else None)
    if chosen is not None:
        if not chosen.is_file():
            raise BadInput(f"{chosen}: datasets file not found")
        return chosen, chosen.read_text()
    local = Path("datasets.yaml")
    if local.is_file():
        return local, local.read_text()
    return None, resources.files("harness").joinpath("data/datasets.yaml").read_text()


def load_config(explicit: Path | None = None) -> DatasetsConfig:
    """Read and validate the datasets file, expanding environment variables and `${data_root}`."""
    path, text = config_file(explicit)
    label = str(path) if path is not None else "<packaged default>"
    base = path.resolve().parent if path is not None else None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise BadInput(f"{label}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("datasets"), dict | None) or "datasets" not in raw:
        raise BadInput(f"{label}: expected a mapping with keys 'data_root' and 'datasets'")
    unknown = [str(k) for k in raw if k not in ("data_root", "datasets")]
    if unknown:
        raise BadInput(f"{label}: unknown key '{unknown[0]}' (the keys are data_root and datasets)")
    raw_root = raw.get("data_root", "${POSEBENCH_DATA:-~/.cache/posebench}")
    if not isinstance(raw_root, str):
        raise BadInput(f"{label}: data_root: expected a path, got {type(raw_root).__name__}")
    root = _resolve(_expand(raw_root, {}, label, "data_root"), base)
    datasets = {}
    for name, entry in (raw.get("datasets") or {}).items():
        if not isinstance(entry, dict):
            raise BadInput(f"{label}: datasets.{name}: expected a mapping with 'format' and 'path'")
        datasets[name] = {k: _expand(v, {"data_root": root}, label, f"datasets.{name}.{k}") if isinstance(v, str) else v for k, v in entry.items()}
        if isinstance(datasets[name].get("path"), str):
            datasets[name]["path"] = _resolve(datasets[name]["path"], base)
    try:
        return DatasetsConfig(data_root=Path(root), datasets=datasets, file=label)
    except ValidationError as exc:
        raise BadInput(f"{label}: {first_validation_error(exc)}") from None
