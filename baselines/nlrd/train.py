"""NLRD-2D training, stage by stage (in progress: the pose prior)."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from baselines.common.data import load_split, subsample
from baselines.common.training import Run, fit
from baselines.nlrd.config import NLRDConfig
from baselines.nlrd.model import PoseDecoder, PoseDiscriminator, PoseEncoder, template_lengths
from baselines.nlrd.objectives import PriorObjective
from harness.config import DatasetsConfig
from harness.skeletons import H36M17, joint_map


def _step(model: nn.Module, batch: list[torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
    return model(*batch)


def unpaired_poses(cfg: NLRDConfig, config: DatasetsConfig) -> torch.Tensor:
    """The unpaired 3D source: the configured dataset's training-split 3D as H36M-17, root-relative, in mm,
    `unpaired_frames` of them evenly spaced. Used as a bag of poses, never paired with the 2D."""
    train = load_split(config, cfg.data.dataset, "train", cfg.data.source)
    poses = train.gt3d[:, joint_map(train.joint_set, H36M17)]
    poses = poses[subsample(len(poses), cfg.unpaired_frames)]
    return torch.from_numpy(poses - poses[:, :1]).float()


def train_prior(cfg: NLRDConfig, poses: torch.Tensor, run: Run) -> tuple[PoseEncoder, PoseDecoder]:
    """Stage 1: the pose auto-encoder with its discriminator; returns the trained encoder and decoder."""
    encoder, decoder = PoseEncoder(cfg.prior.width), PoseDecoder(template_lengths(poses), cfg.prior.width)
    objective = PriorObjective(encoder, decoder, PoseDiscriminator(cfg.prior.width), cfg.prior)
    fit("prior", objective, TensorDataset(poses), cfg.prior, _step, run)
    return encoder.eval(), decoder.eval()
