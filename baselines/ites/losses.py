"""ITES training objectives, one per stage."""

from __future__ import annotations

import torch
from torch import nn

from baselines.common.training import StepFn
from baselines.ites.config import StudentConfig, TeacherConfig


def teacher_step(cfg: TeacherConfig) -> StepFn:
    """5 L_rep + L_inv; the canonical shape is root-centred inside the cycle for the first `align_epochs`."""

    def step(model: nn.Module, batch: list[torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        out = model(batch[0], align_to_root=epoch < cfg.align_epochs, n_rotations=cfg.rotations)
        return {"loss": cfg.rep_weight * out.l_rep + out.l_inv, "l_rep": out.l_rep, "l_inv": out.l_inv}

    return step


def student_step(cfg: StudentConfig) -> StepFn:
    """5 L_KD + L_equi, L_KD the mean absolute difference to the frozen teacher's depths."""

    def step(model: nn.Module, batch: list[torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        kp2d, teacher_depth = batch
        out = model(kp2d, n_rotations=cfg.rotations)
        l_kd = (out.depth.float() - teacher_depth).abs().mean()
        return {"loss": cfg.kd_weight * l_kd + out.l_equi, "l_kd": l_kd, "l_equi": out.l_equi}

    return step
