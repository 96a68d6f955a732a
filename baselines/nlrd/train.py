"""NLRD-2D training, stage by stage: the pose prior, the motion auto-encoder, the relation transformers, G2D
on synthetic pairs, then G2D adapted to the target's unlabelled 2D clips; and prediction."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import TensorDataset

from baselines.common.config import as_dict, test_scale
from baselines.common.data import PoseSplit, WindowDataset, load_split, pose_split, subsample, windows
from baselines.common.evaluation import SplitPredictor, epoch_scorer
from baselines.common.runs import read_run
from baselines.common.training import RoundRobin, Run, config_run, fit
from baselines.nlrd.config import NLRDConfig
from baselines.nlrd.model import (
    BONE_INDEX,
    LATENT,
    KeypointEncoder,
    MotionDecoder,
    MotionEncoder,
    PoseDecoder,
    PoseDiscriminator,
    PoseEncoder,
    RelationTransformer,
    bone_lengths,
    template_lengths,
)
from baselines.nlrd.objectives import AdaptationObjective, MotionObjective, PriorObjective, RelationObjective, SourceObjective
from baselines.nlrd.prior import VirtualCameras
from harness.config import DatasetsConfig
from harness.datasets import load_dataset
from harness.datasets.base import TestSet
from harness.errors import BadInput
from harness.skeletons import H36M17, joint_map

CONFIG = NLRDConfig
FINAL = "nlrd.pt"
STAGES = ("adapted", "source")  # G2D after target adaptation, and after source training alone
DEFAULT_STAGE = "adapted"
PREDICT_BATCH = 4096


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


def root_relative_3d(split: TestSet, rows: np.ndarray | slice = slice(None)) -> torch.Tensor:
    """A split's 3D (those `rows`) as H36M-17, root at the origin, mm."""
    poses = split.gt3d[rows][:, joint_map(split.joint_set, H36M17)]
    return torch.from_numpy(poses - poses[:, :1]).float()


def sequence_rows(sequences: pd.DataFrame) -> np.ndarray:
    """The sample rows of the given sequences (a selection of a split's `sequences`), in their order."""
    return np.concatenate([np.arange(s, s + n) for s, n in zip(sequences["start"], sequences["length"])] or [np.zeros(0, dtype=np.int64)])


def selected(sequences: pd.DataFrame, column: str, wanted: list[str], what: str, split: str) -> pd.DataFrame:
    """The sequences whose `column` is one of `wanted`; a value the split lacks is a one-line error."""
    missing = sorted(set(wanted) - set(sequences[column]))
    if missing:
        raise BadInput(f"{what}: {missing} not in the {split} (it has {', '.join(sorted(set(sequences[column])))})")
    return sequences[sequences[column].isin(wanted)]


def unpaired(cfg: NLRDConfig, config: DatasetsConfig, target: TestSet | None = None) -> Unpaired:
    """The unpaired 3D source: `unpaired_dataset`'s training split (the target's own split object when it is
    the same dataset, so it is read once), only the `unpaired_actions` when they are given."""
    name = cfg.unpaired_dataset or cfg.data.dataset
    train = target if target is not None and name == cfg.data.dataset else load_dataset(config, name, split="train")
    if cfg.unpaired_actions is None:
        return Unpaired(root_relative_3d(train), train.sequences)
    kept = selected(train.sequences, "action", cfg.unpaired_actions, "unpaired_actions", f"{name} training split")
    lengths = kept["length"].to_numpy()
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return Unpaired(root_relative_3d(train, sequence_rows(kept)), kept.assign(start=starts).reset_index(drop=True))


def mm_per_template_unit(poses: torch.Tensor) -> float:
    """The template's unit in mm: half the median head bone of the unpaired 3D (the head bone is 2 units)."""
    return float(bone_lengths(poses).median(dim=0).values[BONE_INDEX[H36M17.index["head_top"]]]) / 2


def labelled_pairs(cfg: NLRDConfig, target: PoseSplit) -> tuple[torch.Tensor, torch.Tensor]:
    """The real (3D, normalised 2D) pairs of `source.labelled_subjects` in the target's training split (none by
    default); a subject the split lacks is a one-line error."""
    seqs = selected(target.test.sequences, "subject", cfg.source.labelled_subjects, "source.labelled_subjects", f"{cfg.data.dataset} training split")
    rows = sequence_rows(seqs)
    return root_relative_3d(target.test, rows), target.tensor()[rows]


def train_prior(cfg: NLRDConfig, poses: torch.Tensor, run: Run) -> tuple[PoseEncoder, PoseDecoder]:
    """Stage 1: the pose auto-encoder with its discriminator; returns the trained encoder and decoder."""
    encoder, decoder = PoseEncoder(cfg.prior.width), PoseDecoder(template_lengths(poses), cfg.prior.width)
    objective = PriorObjective(encoder, decoder, PoseDiscriminator(cfg.prior.width), cfg.prior)
    fit("prior", objective, TensorDataset(poses), cfg.prior, _step, run, some_unused=True)  # a turn trains one side
    return encoder.eval(), decoder.eval()


def train_motion(cfg: NLRDConfig, data: Unpaired, encoder: PoseEncoder, decoder: PoseDecoder, run: Run) -> MotionEncoder:
    """Stage 2: the motion auto-encoder on windows of T frames; returns the trained motion encoder."""
    m = cfg.motion
    motion_encoder, motion_decoder = MotionEncoder(m.hidden, m.motion), MotionDecoder(m.frames, m.hidden, m.motion)
    objective = MotionObjective(motion_encoder, motion_decoder, encoder, decoder)
    fit("motion", objective, data.windows(m.frames, m.stride), m, _step, run)
    return motion_encoder.eval()


def build_relations(cfg: NLRDConfig, encoder: PoseEncoder, motion_encoder: MotionEncoder) -> RelationObjective:
    """The three relation transformers (pose flip, flip-backward, slow-backward) over the given encoders."""
    r = cfg.relations
    return RelationObjective(*(RelationTransformer(size, r.width, r.residual) for size in (LATENT, cfg.motion.motion, cfg.motion.motion)), encoder, motion_encoder)


def train_relations(cfg: NLRDConfig, data: Unpaired, encoder: PoseEncoder, motion_encoder: MotionEncoder, run: Run) -> RelationObjective:
    """Stage 3: the three relation transformers on clips of 2 T frames; returns them in their objective."""
    objective = build_relations(cfg, encoder, motion_encoder)
    fit("relations", objective, data.windows(2 * cfg.motion.frames, cfg.relations.stride), cfg.relations, _step, run)
    return objective.eval()


def train_source(cfg: NLRDConfig, poses: torch.Tensor, decoder: PoseDecoder, labelled: tuple[torch.Tensor, torch.Tensor], run: Run) -> KeypointEncoder:
    """Stage 4: G2D on synthetic 2D of the unpaired 3D (new random cameras every batch), plus the `labelled`
    real (3D, 2D) pairs when there are any; returns it."""
    s = cfg.source
    g2d = KeypointEncoder(width=s.width, middle=s.middle)
    cameras = VirtualCameras(poses, cfg.data.head_distance, s.max_elevation_deg, s.distance_mm)
    real_3d, real_2d = labelled
    pairs = TensorDataset(
        torch.cat([poses, real_3d]),
        torch.cat([torch.zeros(len(poses), *real_2d.shape[1:]), real_2d]),
        torch.cat([torch.zeros(len(poses), dtype=torch.bool), torch.ones(len(real_3d), dtype=torch.bool)]),
    )
    fit("source", SourceObjective(g2d, decoder, cameras), pairs, s, _step, run)
    return g2d.eval()


def train_adaptation(
    cfg: NLRDConfig, g2d: KeypointEncoder, motion_encoder: MotionEncoder, relations: RelationObjective, target: PoseSplit, run: Run,
    on_epoch_end: Callable[[Any, int], dict[str, float]] | None = None,
) -> KeypointEncoder:
    """Stage 5: G2D's middle layers adapted on the target's clips of 2 T frames, the losses in round-robin;
    returns the adapted G2D."""
    a = cfg.adaptation
    objective = AdaptationObjective(g2d, motion_encoder, relations, a)
    clips = WindowDataset(target.tensor(), windows(target.test.sequences, 2 * cfg.motion.frames, a.stride))
    fit("adaptation", objective, clips, a, _step, run, on_epoch_end, round_robin=RoundRobin(objective.groups()))
    return g2d.eval()


def _in_mm(decoder: PoseDecoder, mm: float) -> Callable[[Any, torch.Tensor], np.ndarray]:
    """G2D's test-split poses in mm (of the adaptation objective, or G2D itself), for the per-epoch scores."""
    def predict_mm(model: AdaptationObjective | KeypointEncoder, kp2d: torch.Tensor) -> np.ndarray:
        return decode(getattr(model, "g2d", model).eval(), decoder, kp2d).numpy() * mm

    return predict_mm


def train(cfg: NLRDConfig, folder: Path, config: DatasetsConfig) -> Path:
    """All five stages into `folder` (resuming whatever is there); returns the final checkpoint."""
    with config_run(folder, cfg) as run:
        target_split = load_split(config, cfg.data.dataset, "train", cfg.data.source)
        target = pose_split(target_split, cfg.data.source, head_distance=cfg.data.head_distance)
        labelled = labelled_pairs(cfg, target)
        data = unpaired(cfg, config, target_split)
        poses = data.bag(cfg.unpaired_frames)
        if run.is_main:
            run.console.print(
                f"NLRD-2D '{cfg.name}': {len(poses)} unpaired 3D poses, {len(target.kp2d)} unlabelled target frames "
                f"({cfg.data.dataset} {cfg.data.source}), {run.where}"
            )
        torch.manual_seed(cfg.seed)  # the initial weights
        encoder, decoder = train_prior(cfg, poses, run)
        motion_encoder = train_motion(cfg, data, encoder, decoder, run)
        relations = train_relations(cfg, data, encoder, motion_encoder, run)
        g2d = train_source(cfg, poses, decoder, labelled, run)
        source_only = copy.deepcopy(g2d)
        scorer = None
        if cfg.eval_every_epoch:
            test = pose_split(load_split(config, cfg.data.dataset, "test", cfg.data.source), cfg.data.source, test_scale(cfg.data, target.scale, cfg.data.dataset), cfg.data.head_distance)
            scorer = epoch_scorer(test, config, "NLRD-2D", _in_mm(decoder, mm_per_template_unit(poses)))
            if run.is_main:
                run.console.print(f"source-only G2D on the test split: {scorer(g2d, 0)}")
        train_adaptation(cfg, g2d, motion_encoder, relations, target, run, scorer)

        final = folder / FINAL
        if run.is_main:
            mm = mm_per_template_unit(poses)
            torch.save({
                "method": "nlrd", "config": as_dict(cfg), "scale_2d": target.scale, "mm_per_unit": dict.fromkeys(STAGES, mm),
                "unpaired_poses": len(poses), "lengths": decoder.lengths.cpu(), "pose_encoder": encoder.state_dict(), "pose_decoder": decoder.state_dict(),
                "motion_encoder": motion_encoder.state_dict(), "relations": relations.state_dict(), "adapted": g2d.state_dict(), "source": source_only.state_dict(),
            }, final)
            run.console.print(f"wrote {final}")
        run.barrier()
        return final


@torch.no_grad()
def decode(g2d: KeypointEncoder, decoder: PoseDecoder, kp2d: torch.Tensor) -> torch.Tensor:
    """(N, 17, 2) normalised 2D -> (N, 17, 3) root-relative poses in template units, in batches."""
    device = next(g2d.parameters()).device
    return torch.cat([decoder(g2d(c.to(device))).float().cpu() for c in kp2d.split(PREDICT_BATCH)])


@dataclass
class Trained(SplitPredictor):
    """A finished NLRD-2D run loaded for prediction: G2D (adapted, or source-only) through the pose decoder."""

    cfg: NLRDConfig
    encoders: dict[str, KeypointEncoder]  # stage name (STAGES) -> G2D
    pose_encoder: PoseEncoder
    decoder: PoseDecoder
    motion_encoder: MotionEncoder
    relations: RelationObjective
    scale_2d: float
    mm_per_unit: dict[str, float]
    unpaired_poses: int

    @classmethod
    def load(cls, path: Path, device: torch.device | str = "cpu") -> Trained:
        state, cfg = read_run(path, "nlrd", NLRDConfig, device)
        decoder, pose_encoder = PoseDecoder(state["lengths"], cfg.prior.width), PoseEncoder(cfg.prior.width)
        motion_encoder = MotionEncoder(cfg.motion.hidden, cfg.motion.motion)
        relations = build_relations(cfg, pose_encoder, motion_encoder)
        encoders = {stage: KeypointEncoder(width=cfg.source.width, middle=cfg.source.middle) for stage in STAGES}
        for name, net in (("pose_decoder", decoder), ("pose_encoder", pose_encoder), ("motion_encoder", motion_encoder), ("relations", relations), *encoders.items()):
            net.load_state_dict(state[name])
            net.to(device).eval()
        return cls(cfg, encoders, pose_encoder, decoder, motion_encoder, relations, state["scale_2d"], state["mm_per_unit"], state["unpaired_poses"])

    def predict_array(self, kp2d: np.ndarray, stage: str) -> np.ndarray:
        return decode(self.encoders[stage], self.decoder, torch.from_numpy(kp2d)).numpy() * self.mm_per_unit[stage]

    def training_meta(self) -> dict[str, str]:
        cfg = self.cfg
        labelled = cfg.source.labelled_subjects
        pairs = f"real 2D-3D pairs of {', '.join(labelled)}" if labelled else "no 2D-3D pairs"
        return {
            "supervision": "weakly-supervised" if labelled else "unsupervised",
            "training_data": (
                f"unpaired 3D: {self.unpaired_poses} poses of the {cfg.unpaired_dataset or cfg.data.dataset} train split, never paired with 2D; "
                f"target: {cfg.data.dataset} train split {cfg.data.source} 2D, unlabelled; {pairs}; config {cfg.name}"
            ),
        }
