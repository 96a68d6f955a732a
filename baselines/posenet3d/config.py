"""PoseNet3D settings. No official code exists: every default is reconstructed (see README.md)."""

from __future__ import annotations

import dataclasses

from pydantic.dataclasses import dataclass

from baselines.common.config import STRICT, AdamStageConfig, RunConfig
from baselines.common.config import DataConfig as CommonDataConfig


@dataclass(config=STRICT)
class TeacherConfig(AdamStageConfig):
    """Stage 1: the lifter, trained with the self-consistency cycle and the 2D and temporal critics."""

    epochs: int = 20
    batch_size: int = 1024
    lr: float = 1e-4
    width: int = 1024
    blocks: int = 4
    dropout: float = 0.5
    cycle_2d_weight: float = 10.0
    cycle_3d_weight: float = 0.001
    adversarial_weight: float = 1.0
    temporal_weight: float = 1.0
    max_elevation_deg: float = 20.0


@dataclass(config=STRICT)
class CriticConfig(AdamStageConfig):
    """The 2D pose critic and the temporal (frame-difference) critic, WGAN-GP."""

    lr: float = 1e-4
    width: int = 1024
    blocks: int = 3
    gp_weight: float = 10.0
    updates: int = 1  # critic updates per lifter update


@dataclass(config=STRICT)
class StudentConfig(AdamStageConfig):
    """Stage 2: distillation of the frozen lifter into the body-model student."""

    epochs: int = 10
    batch_size: int = 1024
    lr: float = 1e-4
    width: int = 1024
    blocks: int = 4
    dropout: float = 0.5
    direction_weight: float = 1.0


@dataclass(config=STRICT)
class FinetuneConfig(AdamStageConfig):
    """Stage 3: lifter and student together on consecutive frames: each network's cycle and critics, agreement,
    the student's reprojection and smoothness."""

    epochs: int = 5
    batch_size: int = 1024
    lr: float = 1e-5
    agreement_weight: float = 1.0
    reprojection_weight: float = 10.0  # the student's joints, placed like the lifter's pose, against the input 2D
    smoothness_weight: float = 1.0  # mean change of the student's scale-aligned joints between consecutive frames
    self_consistency_weight: float = 1.0  # the student's own rotate-project-lift cycle, times the teacher's cycle weights
    adversarial_weight: float = 1.0  # the critics on the student's synthetic views and their frame differences, times the teacher's weights


@dataclass(config=STRICT)
class DataConfig(CommonDataConfig):
    head_distance: float = 0.1  # 1/C with C = 10, the lifter's camera depth


@dataclass(config=STRICT)
class PoseNet3DConfig(RunConfig):
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    teacher: TeacherConfig = dataclasses.field(default_factory=TeacherConfig)
    critic: CriticConfig = dataclasses.field(default_factory=CriticConfig)
    student: StudentConfig = dataclasses.field(default_factory=StudentConfig)
    finetune: FinetuneConfig = dataclasses.field(default_factory=FinetuneConfig)
    smpl_model: str | None = None  # a converted SMPL .npz; without it the kinematic-skeleton body model (PoseNet3D-KS)
    h36m_regressor: str | None = None  # J_regressor_h36m.npy for SMPL; without it SMPL joints are mapped
