"""The authors' released ITES weights as a PoseBench run (`harness baseline import ites`).

The official repository (github.com/sjtuxcx/ITES) commits `checkpoint/teacher/ckpt_teacher.bin` and
`checkpoint/student/ckpt_student.bin`. Its training scripts save `{'epoch', 'lr', 'optimizer', 'model_pos'}`
with the network's state dict under 'model_pos', from PyTorch 1.1 (the legacy, pre-1.6 serialisation); files
re-saved by a newer torch use the zip format. Both are read here with `torch.load(weights_only=True)`, which
unpickles only tensors and plain containers: a file that pickles any other object (an argparse.Namespace, a
numpy scalar) is refused in one line rather than executed. The weights must match PoseBench's networks key for
key and shape for shape (`strict`).

The official evaluation scales each test split's 2D on its own (the mean root-to-head distance of that split is
1/5, after root-centring and dividing by the focal length in pixels), where PoseBench's runs reuse the training
split's factor by default; the imported run's config therefore says `data.scale_from: split`.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from baselines.common.config import DataConfig
from baselines.common.data import load_split, pose_split, subsample
from baselines.common.threads import use_cpu_threads
from baselines.ites.config import ITESConfig
from baselines.ites.train import FINAL, build, metric_scales, save_run
from harness.config import DatasetsConfig
from harness.errors import BadInput
from harness.outputs import check_new

REPOSITORY = "https://github.com/sjtuxcx/ITES"
RELEASED = {"teacher": "checkpoint/teacher/ckpt_teacher.bin", "student": "checkpoint/student/ckpt_student.bin"}
WEIGHTS_KEY = "model_pos"  # where the official scripts put the state dict
PARALLEL_PREFIX = "module."  # nn.DataParallel's prefix, dropped when every key has it
SCALE_FRAMES = 20_000  # evenly spaced training samples whose median pelvis-to-head length sets the metric scale


def serialisation(path: Path) -> str:
    """'zip' (torch >= 1.6) or 'legacy' (the earlier pickle stream), as torch.load tells them apart."""
    return "zip" if zipfile.is_zipfile(path) else "legacy"


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of an official checkpoint, under 'model_pos' or bare, on the CPU; one-line errors."""
    if not path.is_file():
        raise BadInput(f"{path}: checkpoint not found")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for unreadable files
        refused = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if refused:
            raise BadInput(f"{path}: refused by torch.load(weights_only=True): it pickles {refused.group(1)}, not only tensors") from None
        raise BadInput(f"{path}: not a readable torch checkpoint ({type(exc).__name__})") from None
    state = saved.get(WEIGHTS_KEY, saved) if isinstance(saved, dict) else None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BadInput(f"{path}: expected a state dict of tensors, bare or under '{WEIGHTS_KEY}'")
    if all(k.startswith(PARALLEL_PREFIX) for k in state):
        state = {k.removeprefix(PARALLEL_PREFIX): v for k, v in state.items()}
    return state


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], label: str) -> None:
    """Load `state` into `module` when its keys and shapes are exactly the module's; else name the first bad key."""
    expected = module.state_dict()
    for key, value in expected.items():
        if key not in state:
            raise BadInput(f"{label}: key '{key}' is missing (the checkpoint has {len(state)} keys, the network {len(expected)})")
        if state[key].shape != value.shape:
            raise BadInput(f"{label}: key '{key}' has shape {tuple(state[key].shape)}, the network {tuple(value.shape)}")
    extra = next((k for k in state if k not in expected), None)
    if extra is not None:
        raise BadInput(f"{label}: unexpected key '{extra}' (the checkpoint has {len(state)} keys, the network {len(expected)})")
    module.load_state_dict(state, strict=True)


def official_config(dataset: str, source: str) -> ITESConfig:
    """The official networks (the paper config's sizes) and 2D normalisation (each split scaled on its own)."""
    return ITESConfig(name="official", data=DataConfig(dataset=dataset, source=source, scale_from="split"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_official(
    teacher: Path, student: Path, folder: Path, datasets: DatasetsConfig, dataset: str = "h36m", source: str = "gt",
    threads: int | None = None, force: bool = False,
) -> Path:
    """Load both released checkpoints strictly, set their metric scale on `dataset`'s training 2D, write `folder/ites.pt`."""
    final = folder / FINAL
    check_new(final, force)
    use_cpu_threads(threads)
    cfg = official_config(dataset, source)
    nets = dict(zip(("teacher", "student"), build(cfg)))
    origin: dict[str, Any] = {"repository": REPOSITORY}
    for stage, path in (("teacher", teacher), ("student", student)):
        load_strict(nets[stage], read_weights(path), str(path))
        origin[stage] = {"file": path.name, "sha256": _sha256(path), "serialisation": serialisation(path)}
    train = pose_split(load_split(datasets, dataset, "train", source), source, head_distance=cfg.data.head_distance)
    kp2d = train.tensor()[subsample(len(train.kp2d), SCALE_FRAMES)]
    scales = metric_scales(cfg, nets["teacher"], nets["student"], kp2d, "cpu")
    folder.mkdir(parents=True, exist_ok=True)
    save_run(final, cfg, train.scale, scales, nets["teacher"], nets["student"], origin)
    return final


def imported_meta(cfg: ITESConfig, origin: dict[str, Any]) -> dict[str, str]:
    """The submission fields of imported weights: the authors' networks, and what set their metric scale."""
    files = ", ".join(f"{origin[s]['file']} (sha256 {origin[s]['sha256'][:12]})" for s in ("teacher", "student"))
    return {
        "name": "ITES (authors' released weights)",
        "code": origin["repository"],
        "training_data": f"the authors' checkpoints {files}, trained on H3.6M S1, S5-S8 ground-truth 2D, no 3D (official README); "
        f"metric scale from PoseBench's {cfg.data.dataset} train split, {cfg.data.source} 2D",
    }
