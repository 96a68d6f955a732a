"""ITES training: the invariant teacher, its pseudo-depths, then the equivariant student; and prediction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from baselines.common.config import as_dict, test_scale
from baselines.common.data import PoseSplit, load_split, pose_split, subsample
from baselines.common.evaluation import SplitPredictor, epoch_scorer, mm_per_unit
from baselines.common.geometry import back_project
from baselines.common.runs import read_run
from baselines.common.training import Run, config_run, fit, recalibrate_batchnorm
from baselines.ites.config import ITESConfig
from baselines.ites.losses import student_step, teacher_step
from baselines.ites.model import ROOT, Student, Teacher
from harness.config import DatasetsConfig

CONFIG = ITESConfig
FINAL = "ites.pt"
STAGES = ("teacher", "student")
DEFAULT_STAGE = "student"
PREDICT_BATCH = 4096


def build(cfg: ITESConfig) -> tuple[Teacher, Student]:
    return Teacher(width=cfg.teacher.width, blocks=cfg.teacher.blocks, basis=cfg.teacher.basis), Student(cfg.student.hidden, cfg.student.blocks, bn_init=cfg.student.bn_init)


@torch.no_grad()
def lift(model: Teacher | Student, kp2d: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Normalised 2D (N, 17, 2) -> 3D in model units (N, 17, 3), root at the origin, in batches.

    The teacher's 3D is the input 2D back-projected with the teacher's depths, as the official evaluation does."""
    model.eval().to(device)
    out = []
    for chunk in kp2d.split(PREDICT_BATCH):
        chunk = chunk.to(device)
        if isinstance(model, Teacher):
            pose = back_project(chunk, model(chunk, n_rotations=0).camera[..., 2:3])
        else:
            pose = model.lift(chunk)
        out.append((pose - pose[:, ROOT : ROOT + 1]).float().cpu())
    return torch.cat(out)


def _in_mm(cfg: ITESConfig) -> Any:
    """A network's test-split lift in mm (scaled by its own pelvis-to-head prior), for the per-epoch scores."""
    def predict_mm(model: Teacher | Student, kp2d: torch.Tensor) -> np.ndarray:
        poses = lift(model, kp2d, next(model.parameters()).device)
        return poses.numpy() * mm_per_unit(poses, cfg.pelvis_head_mm)

    return predict_mm


def train(cfg: ITESConfig, folder: Path, config: DatasetsConfig) -> Path:
    """Both stages into `folder` (resuming whatever is there); returns the final checkpoint."""
    with config_run(folder, cfg) as run:
        train_split = pose_split(load_split(config, cfg.data.dataset, "train", cfg.data.source), cfg.data.source, head_distance=cfg.data.head_distance)
        keep = subsample(len(train_split.kp2d), cfg.data.train_frames)
        kp2d = train_split.tensor()[keep]
        scorer = None
        if cfg.eval_every_epoch:
            test = load_split(config, cfg.data.dataset, "test", cfg.data.source)
            scorer = epoch_scorer(pose_split(test, cfg.data.source, test_scale(cfg.data, train_split.scale, test.dataset), cfg.data.head_distance), config, "ITES", _in_mm(cfg))
        if run.is_main:
            run.console.print(f"ITES '{cfg.name}' on {cfg.data.dataset} {cfg.data.source}: {len(kp2d)} training samples, {run.where}")
        torch.manual_seed(cfg.seed)  # the initial weights
        teacher, student = build(cfg)
        teacher = fit("teacher", teacher, TensorDataset(kp2d), cfg.teacher, teacher_step(cfg.teacher), run, scorer)
        if cfg.teacher.recalibrate_bn:
            recalibrate_batchnorm(teacher, kp2d, _prediction_pass, run.device, cfg.teacher.batch_size)
        depths = _pseudo_depths(teacher, kp2d, run)
        student = fit("student", student, TensorDataset(kp2d, depths), cfg.student, student_step(cfg.student), run, scorer)
        if cfg.student.recalibrate_bn:
            recalibrate_batchnorm(student, kp2d, _prediction_pass, run.device, cfg.student.batch_size)
        final = folder / FINAL
        if run.is_main:
            save_run(final, cfg, train_split.scale, metric_scales(cfg, teacher, student, kp2d, run.device), teacher, student)
            run.console.print(f"wrote {final}")
        run.barrier()
        return final


def metric_scales(cfg: ITESConfig, teacher: Teacher, student: Student, kp2d: torch.Tensor, device: torch.device | str) -> dict[str, float]:
    """Each network's millimetres per model unit, from its lifts of the training 2D `kp2d` (mm_per_unit)."""
    return {name: mm_per_unit(lift(m, kp2d, torch.device(device)), cfg.pelvis_head_mm) for name, m in zip(STAGES, (teacher, student))}


def save_run(path: Path, cfg: ITESConfig, scale_2d: float, scales: dict[str, float], teacher: Teacher, student: Student, origin: dict[str, Any] | None = None) -> None:
    """Write a finished run (`ites.pt`); `origin` names imported weights (baselines/ites/official.py)."""
    torch.save({
        "method": "ites", "config": as_dict(cfg), "dataset": cfg.data.dataset, "source": cfg.data.source,
        "scale_2d": scale_2d, "mm_per_unit": scales,
        "teacher": teacher.state_dict(), "student": student.state_dict(),
        **({"origin": origin} if origin else {}),
    }, path)


def _prediction_pass(model: Teacher | Student, kp2d: torch.Tensor) -> Any:
    return model(kp2d, n_rotations=0)


@torch.no_grad()
def _pseudo_depths(teacher: Teacher, kp2d: torch.Tensor, run: Run) -> torch.Tensor:
    """The frozen teacher's depths of every training sample, computed once (and kept in the run folder)."""
    path = run.folder / "pseudo_depths.pt"
    if path.is_file():
        return torch.load(path)
    teacher.eval()
    depths = torch.cat([teacher(c.to(run.device), n_rotations=0).camera[..., 2:3].float().cpu() for c in kp2d.split(PREDICT_BATCH)])
    if run.is_main:
        torch.save(depths, path)
    return depths


@dataclass
class Trained(SplitPredictor):
    """A finished ITES run loaded for prediction."""

    cfg: ITESConfig
    teacher: Teacher
    student: Student
    scale_2d: float
    mm_per_unit: dict[str, float]
    origin: dict[str, Any] | None = None  # where imported weights came from; None for a PoseBench-trained run

    @classmethod
    def load(cls, path: Path, device: torch.device | str = "cpu") -> Trained:
        state, cfg = read_run(path, "ites", ITESConfig, device)
        teacher, student = build(cfg)
        teacher.load_state_dict(state["teacher"])
        student.load_state_dict(state["student"])
        return cls(cfg, teacher.to(device).eval(), student.to(device).eval(), state["scale_2d"], state["mm_per_unit"], state.get("origin"))

    def training_meta(self) -> dict[str, str]:
        """A trained run's fields, or, for imported weights, the method name and checkpoints they came from."""
        if self.origin is None:
            return super().training_meta()
        from baselines.ites.official import imported_meta

        return imported_meta(self.cfg, self.origin)

    def predict_array(self, kp2d: np.ndarray, stage: str) -> np.ndarray:
        model = self.student if stage == "student" else self.teacher
        poses = lift(model, torch.from_numpy(kp2d), next(model.parameters()).device)
        return poses.numpy() * self.mm_per_unit[stage]
