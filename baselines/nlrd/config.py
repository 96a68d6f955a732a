"""NLRD-2D settings. Defaults are the official code's where it has them (baselines.md section 3.4)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from baselines.common.config import STRICT, DataConfig, RunConfig, AdamStageConfig


@dataclass(config=STRICT)
class PriorConfig(AdamStageConfig):
    """Stage 1: the pose auto-encoder and its discriminator on unpaired 3D poses."""

    epochs: int = 10
    batch_size: int = 256
    lr: float = 2e-6
    width: int = 32  # a limb group's width in the encoder; the other levels are 2, 4 and 16 times it
    recon_threshold: float = 0.05  # reconstruction alone until its L1 (template units) falls below this
    reconstruction_weight: float = 100.0  # on the reconstruction and latent-cycle L1 once the adversary plays
    adversarial_weight: float = 5.0


@dataclass(config=STRICT)
class MotionConfig(AdamStageConfig):
    """Stage 2: the motion auto-encoder on windows of pose latents."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: Literal["sgd", "adam", "rmsprop"] = "rmsprop"
    lr: float = 1e-4
    frames: int = 30  # the window: T = 30 frames (the official code's 30 fps)
    stride: int = 1  # a window starts every `stride` frames
    hidden: int = 128  # LSTM units
    motion: int = 128  # the motion code's size


@dataclass(config=STRICT)
class RelationConfig(AdamStageConfig):
    """Stage 3: the relation transformers (pose flip, flip-backward, slow-backward) on clips of 2 T frames."""

    epochs: int = 10
    batch_size: int = 256
    optimizer: Literal["sgd", "adam", "rmsprop"] = "rmsprop"
    lr: float = 1e-3
    width: int = 1024
    stride: int = 1
    residual: bool = False  # the transformer predicts a change of its input and starts as the identity


@dataclass(config=STRICT)
class SourceConfig(AdamStageConfig):
    """Stage 4: the 2D encoder G2D on unpaired 3D poses seen by random virtual cameras."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-5
    width: int = 1024
    middle: int = 2  # hidden layers between G2D's input and output layers (the ones target adaptation updates)
    max_elevation_deg: float = 20.0
    distance_mm: tuple[float, float] = (4000.0, 6000.0)
    labelled_subjects: list[str] = dataclasses.field(default_factory=list)  # real 2D-3D pairs of these training subjects join the synthetic ones (the semi-supervised setting: [S1])


AdaptationLoss = Literal["pose_contrastive", "motion_contrastive", "flip", "flip_backward", "slow_backward"]
ADAPTATION_LOSSES: tuple[AdaptationLoss, ...] = ("pose_contrastive", "motion_contrastive", "flip", "flip_backward", "slow_backward")


@dataclass(config=STRICT)
class AdaptConfig(AdamStageConfig):
    """Stage 5: target adaptation of G2D's middle layers on unlabelled 2D clips (2 T frames) of the training
    split, one loss per step in the order of `losses`, each with its own Adam."""

    epochs: int = 1
    batch_size: int = 8  # clips
    lr: float = 1e-5  # the relation losses (flip, flip-backward, slow-backward)
    contrastive_lr: float = 2e-5  # the contrastive losses (they also train their heads)
    stride: int = 30  # a clip starts every `stride` frames
    losses: list[AdaptationLoss] = dataclasses.field(default_factory=lambda: list(ADAPTATION_LOSSES))
    temperature: float = 0.07
    jitter: float = 0.003  # keypoint noise of the contrastive positives, normalised units
    perturb: Annotated[float, Field(ge=0, le=1)] = 1 / 3  # probability that a frame any loss reads gets that noise too (the code's per-frame colour change)
    scale: float = 0.1
    dropout: float = 0.1


@dataclass(config=STRICT)
class NLRDConfig(RunConfig):
    data: DataConfig = dataclasses.field(default_factory=DataConfig)  # the target: its training split's 2D, unlabelled
    unpaired_dataset: str | None = None  # whose training-split 3D is the unpaired pose source (None: data.dataset)
    unpaired_frames: int | None = None  # keep this many evenly spaced poses of the unpaired 3D source
    unpaired_actions: list[str] | None = None  # keep only these actions of the unpaired 3D source (None: all); a motion gap to the target
    prior: PriorConfig = dataclasses.field(default_factory=PriorConfig)
    motion: MotionConfig = dataclasses.field(default_factory=MotionConfig)
    relations: RelationConfig = dataclasses.field(default_factory=RelationConfig)
    source: SourceConfig = dataclasses.field(default_factory=SourceConfig)
    adaptation: AdaptConfig = dataclasses.field(default_factory=AdaptConfig)
