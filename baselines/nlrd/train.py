"""NLRD-2D training, stage by stage (in progress: the pose prior, the motion auto-encoder, the relations)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from baselines.common.data import WindowDataset, load_split, subsample, windows
from baselines.common.training import Run, fit
from baselines.nlrd.config import NLRDConfig
from baselines.nlrd.model import (
    LATENT,
    KeypointEncoder,
    MotionDecoder,
    MotionEncoder,
    PoseDecoder,
    PoseDiscriminator,
    PoseEncoder,
    RelationTransformer,
    template_lengths,
)
from baselines.nlrd.objectives import MotionObjective, PriorObjective, RelationObjective, SourceObjective
from baselines.nlrd.prior import VirtualCameras
from harness.config import DatasetsConfig
from harness.skeletons import H36M17, joint_map


def _step(model: nn.Module, batch: list[torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
    return model(*batch)


@dataclass
class Unpaired:
    """The unpaired 3D source: the configured dataset's training-split 3D as H36M-17, root-relative, in mm, with
    its sequences (for windows). Never paired with any 2D."""

    poses: torch.Tensor  # (N, 17, 3)
    sequences: pd.DataFrame

    def bag(self, frames: int | None) -> torch.Tensor:
        """`frames` evenly spaced poses (all when None)."""
        return self.poses[subsample(len(self.poses), frames)]

    def windows(self, length: int, stride: int) -> WindowDataset:
        return WindowDataset(self.poses, windows(self.sequences, length, stride))


def unpaired(cfg: NLRDConfig, config: DatasetsConfig) -> Unpaired:
    train = load_split(config, cfg.data.dataset, "train", cfg.data.source)
    poses = train.gt3d[:, joint_map(train.joint_set, H36M17)]
    return Unpaired(torch.from_numpy(poses - poses[:, :1]).float(), train.sequences)


def train_prior(cfg: NLRDConfig, poses: torch.Tensor, run: Run) -> tuple[PoseEncoder, PoseDecoder]:
    """Stage 1: the pose auto-encoder with its discriminator; returns the trained encoder and decoder."""
    encoder, decoder = PoseEncoder(cfg.prior.width), PoseDecoder(template_lengths(poses), cfg.prior.width)
    objective = PriorObjective(encoder, decoder, PoseDiscriminator(cfg.prior.width), cfg.prior)
    fit("prior", objective, TensorDataset(poses), cfg.prior, _step, run)
    return encoder.eval(), decoder.eval()


def train_motion(cfg: NLRDConfig, data: Unpaired, encoder: PoseEncoder, decoder: PoseDecoder, run: Run) -> MotionEncoder:
    """Stage 2: the motion auto-encoder on windows of T frames; returns the trained motion encoder."""
    m = cfg.motion
    motion_encoder, motion_decoder = MotionEncoder(m.hidden, m.motion), MotionDecoder(m.frames, m.hidden, m.motion)
    objective = MotionObjective(motion_encoder, motion_decoder, encoder, decoder)
    fit("motion", objective, data.windows(m.frames, m.stride), m, _step, run)
    return motion_encoder.eval()


def train_relations(cfg: NLRDConfig, data: Unpaired, encoder: PoseEncoder, motion_encoder: MotionEncoder, run: Run) -> RelationObjective:
    """Stage 3: the three relation transformers on clips of 2 T frames; returns them in their objective."""
    r = cfg.relations
    objective = RelationObjective(
        *(RelationTransformer(size, r.width, r.residual) for size in (LATENT, cfg.motion.motion, cfg.motion.motion)), encoder, motion_encoder
    )
    fit("relations", objective, data.windows(2 * cfg.motion.frames, r.stride), r, _step, run)
    return objective.eval()


def train_source(cfg: NLRDConfig, poses: torch.Tensor, decoder: PoseDecoder, run: Run) -> KeypointEncoder:
    """Stage 4: G2D on synthetic 2D of the unpaired 3D (new random cameras every batch); returns it."""
    s = cfg.source
    g2d = KeypointEncoder(width=s.width, middle=s.middle)
    cameras = VirtualCameras(poses, cfg.data.head_distance, s.max_elevation_deg, s.distance_mm)
    fit("source", SourceObjective(g2d, decoder, cameras), TensorDataset(poses), s, _step, run)
    return g2d.eval()
