"""ITES settings. Defaults are the official code's (the `paper` config); see baselines.md section 1."""

from __future__ import annotations

import dataclasses
from typing import Literal

from pydantic.dataclasses import dataclass

from baselines.common.config import STRICT, DataConfig, RunConfig, StageConfig


@dataclass(config=STRICT)
class TeacherConfig(StageConfig):
    epochs: int = 50
    lr_milestones: list[int] = dataclasses.field(default_factory=lambda: [15, 30, 45])
    width: int = 1024
    blocks: int = 6
    basis: int = 12  # K, the size of the pose dictionary
    rep_weight: float = 5.0  # total loss = rep_weight * L_rep + L_inv
    align_epochs: int = 15  # the invariance cycle root-centres the canonical shape during these first epochs
    rotations: int = 4  # random rotations per sample in the invariance cycle


@dataclass(config=STRICT)
class StudentConfig(StageConfig):
    epochs: int = 40
    lr_milestones: list[int] = dataclasses.field(default_factory=lambda: [15, 30])
    hidden: int = 128
    blocks: int = 4
    kd_weight: float = 5.0  # total loss = kd_weight * L_KD + L_equi
    rotations: int = 4  # rotations about the vertical axis per sample in the equivariance cycle
    bn_init: Literal["ones", "uniform"] = "ones"  # BatchNorm scales at 1 (torch >= 1.2) or uniform in (0, 1) (the authors' torch 1.1)


@dataclass(config=STRICT)
class ITESConfig(RunConfig):
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    teacher: TeacherConfig = dataclasses.field(default_factory=TeacherConfig)
    student: StudentConfig = dataclasses.field(default_factory=StudentConfig)
