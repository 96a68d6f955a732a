"""PoseNet3D training (reconstructed): the lifter with its critics, distillation into the body-model student,
joint fine-tuning on consecutive frames; and prediction."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from baselines.common.config import as_dict
from baselines.common.data import load_split, pose_split, subsample
from baselines.common.evaluation import SplitPredictor, mm_per_unit
from baselines.common.runs import read_run
from baselines.common.training import Adversary, config_run, fit
from baselines.posenet3d.body import KinematicSkeleton, SmplBody, median_bone_lengths
from baselines.posenet3d.config import PoseNet3DConfig
from baselines.posenet3d.model import Lifter, Student
from baselines.posenet3d.objectives import (
    CriticObjective,
    Critics,
    FinetuneObjective,
    StudentObjective,
    TeacherObjective,
)
from harness.config import DatasetsConfig

CONFIG = PoseNet3DConfig
FINAL = "posenet3d.pt"
STAGES = ("teacher", "student", "teacher-stage1", "student-stage2")  # final networks, then before stage 3
DEFAULT_STAGE = "student"
PREDICT_BATCH = 4096


def _step(model: nn.Module, batch: list[torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
    return model(*batch)


def build_body(cfg: PoseNet3DConfig, mean_lengths: torch.Tensor) -> nn.Module:
    if cfg.smpl_model:
        return SmplBody(Path(cfg.smpl_model), Path(cfg.h36m_regressor) if cfg.h36m_regressor else None)
    return KinematicSkeleton(mean_lengths)


def build_lifter(cfg: PoseNet3DConfig) -> Lifter:
    return Lifter(width=cfg.teacher.width, blocks=cfg.teacher.blocks, dropout=cfg.teacher.dropout)


def build_student(cfg: PoseNet3DConfig, body: nn.Module) -> Student:
    """The student for `body` (whose bone lengths come from the trained lifter)."""
    s = cfg.student
    return Student(body.n_rotations, body.n_betas, width=s.width, blocks=s.blocks, dropout=s.dropout)


@torch.no_grad()
def lift(lifter: Lifter, kp2d: torch.Tensor, device: torch.device) -> torch.Tensor:
    lifter.eval()
    out = [lifter(c.to(device)).float().cpu() for c in kp2d.split(PREDICT_BATCH)]
    poses = torch.cat(out)
    return poses - poses[:, :1]


@torch.no_grad()
def body_joints(student: Student, body: nn.Module, kp2d: torch.Tensor, device: torch.device) -> torch.Tensor:
    student.eval()
    return torch.cat([body(*student(c.to(device))).float().cpu() for c in kp2d.split(PREDICT_BATCH)])


def train(cfg: PoseNet3DConfig, folder: Path, config: DatasetsConfig) -> Path:
    """All three stages into `folder` (resuming whatever is there); returns the final checkpoint."""
    with config_run(folder, cfg) as run:
        split = pose_split(load_split(config, cfg.data.dataset, "train", cfg.data.source), cfg.data.source, head_distance=cfg.data.head_distance)
        keep = subsample(len(split.kp2d), cfg.data.train_frames)
        kp = split.tensor()
        pairs = TensorDataset(kp[keep], kp[split.next_frame()[keep]])
        if run.is_main:
            run.console.print(f"PoseNet3D '{cfg.name}' on {cfg.data.dataset} {cfg.data.source}: {len(keep)} training samples, {run.where}")
        torch.manual_seed(cfg.seed)  # the initial weights
        lifter = build_lifter(cfg)
        critics = Critics(cfg.critic)
        critic_step = Adversary(CriticObjective(critics, lifter, cfg.critic, cfg.teacher.max_elevation_deg), _step, cfg.critic, cfg.critic.updates)
        teacher = TeacherObjective(lifter, critics, cfg.teacher)
        fit("teacher", teacher, pairs, cfg.teacher, _step, run, adversary=critic_step)
        lifter_stage1 = copy.deepcopy(lifter)

        mean_lengths = median_bone_lengths(lift(lifter, kp[keep], run.device))
        body = build_body(cfg, mean_lengths)
        student = build_student(cfg, body)
        fit("student", StudentObjective(student, body, lifter, cfg.student), TensorDataset(kp[keep]), cfg.student, _step, run)
        student_stage2 = copy.deepcopy(student)
        finetune = FinetuneObjective(teacher, student, body, cfg.finetune)
        critic_both = Adversary(CriticObjective(critics, lifter, cfg.critic, cfg.teacher.max_elevation_deg, finetune), _step, cfg.critic, cfg.critic.updates)
        fit("finetune", finetune, pairs, cfg.finetune, _step, run, adversary=critic_both)

        final = folder / FINAL
        if run.is_main:
            train_kp = kp[keep]
            lifters = {"teacher": lifter, "teacher-stage1": lifter_stage1}
            students = {"student": student, "student-stage2": student_stage2}
            scales = {name: mm_per_unit(lift(net, train_kp, run.device), cfg.pelvis_head_mm) for name, net in lifters.items()}
            scales |= {name: mm_per_unit(body_joints(net, body, train_kp, run.device), cfg.pelvis_head_mm) for name, net in students.items()}
            torch.save({
                "method": "posenet3d", "config": as_dict(cfg), "scale_2d": split.scale, "mm_per_unit": scales, "mean_lengths": mean_lengths,
                "body_label": body.label, **{name: net.state_dict() for name, net in (lifters | students).items()},
            }, final)
            run.console.print(f"wrote {final}")
        run.barrier()
        return final


@dataclass
class Trained(SplitPredictor):
    """A finished PoseNet3D run loaded for prediction."""

    cfg: PoseNet3DConfig
    networks: dict[str, Lifter | Student]  # stage name (STAGES) -> network
    body: nn.Module
    scale_2d: float
    mm_per_unit: dict[str, float]

    @classmethod
    def load(cls, path: Path, device: torch.device | str = "cpu") -> Trained:
        state, cfg = read_run(path, "posenet3d", PoseNet3DConfig, device)
        body = build_body(cfg, state["mean_lengths"])
        networks: dict[str, Lifter | Student] = {}
        for stage in STAGES:
            net: Lifter | Student = build_lifter(cfg) if stage.startswith("teacher") else build_student(cfg, body)
            net.load_state_dict(state[stage])
            networks[stage] = net.to(device).eval()
        return cls(cfg, networks, body.to(device), state["scale_2d"], state["mm_per_unit"])

    def predict_array(self, kp2d: np.ndarray, stage: str) -> np.ndarray:
        net = self.networks[stage]
        device = next(net.parameters()).device
        kp = torch.from_numpy(kp2d)
        poses = lift(net, kp, device) if isinstance(net, Lifter) else body_joints(net, self.body, kp, device)
        return poses.numpy() * self.mm_per_unit[stage]
