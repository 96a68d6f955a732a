"""Training rules of NLRD's pose prior (baselines.md section 3.4, stage 1): the augmentation of the unpaired
3D poses, the reconstruction target, the official code's schedule of who trains when; and the virtual
cameras that pair the unpaired 3D with 2D for source training (section 3.6)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from baselines.common.data import HEAD
from baselines.common.geometry import about_y, azimuth_elevation, rotate
from baselines.nlrd.model import bone_vectors, chain
from baselines.nlrd.relations import flip

Turn = Literal["reconstruct", "discriminator", "generator"]


def augment(poses: torch.Tensor) -> torch.Tensor:
    """(B, 17, 3) root-relative camera-frame poses: a uniform azimuth about the vertical (camera y) axis, then
    the mirror image with probability 1/2. The code's elevation rotation is computed and discarded; so here."""
    turned = rotate(poses, about_y(len(poses), device=poses.device))
    mirror = torch.rand(len(poses), device=poses.device) < 0.5
    return torch.where(mirror[:, None, None], flip(turned), turned)


def on_template(poses: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """What the decoder can reproduce of a pose: its bone directions with the template's lengths."""
    return chain(bone_vectors(poses), lengths)


TURNS: tuple[Turn, ...] = ("reconstruct", "discriminator", "generator")


@dataclass(frozen=True)
class Schedule:
    """Whose turn it is. Reconstruction alone until its L1 falls below `recon_threshold`; then the
    discriminator trains until it classifies at least `fake_accuracy` of decoded random latents as fake and
    `real_accuracy` of real poses as real, then the generator (encoder and decoder) until at least
    `generator_accuracy` of its decoded latents pass as real, and back."""

    recon_threshold: float = 0.05
    fake_accuracy: float = 0.65
    real_accuracy: float = 0.80
    generator_accuracy: float = 0.60

    def next(self, turn: Turn, recon_l1: float, real_as_real: float, fake_as_fake: float) -> Turn:
        """The turn after a step of `turn` that measured these figures (accuracies in [0, 1])."""
        if turn == "reconstruct":
            return "discriminator" if recon_l1 < self.recon_threshold else turn
        if turn == "discriminator":
            return "generator" if fake_as_fake >= self.fake_accuracy and real_as_real >= self.real_accuracy else turn
        return "discriminator" if 1.0 - fake_as_fake >= self.generator_accuracy else turn


class VirtualCameras:
    """Random pinhole views of unpaired 3D poses, giving the paired 2D-3D of source training: azimuth uniform,
    elevation uniform in +-`max_elevation_deg`, the root `distance_mm` from the camera; image coordinates
    divided by the focal length, root-centred and scaled by one factor (fixed on a calibration set) that makes
    the mean root-to-head distance `head_distance`, as the real splits are normalised."""

    def __init__(self, calibration: torch.Tensor, head_distance: float, max_elevation_deg: float = 20.0, distance_mm: tuple[float, float] = (4000.0, 6000.0)) -> None:
        self.max_elevation, self.distance = math.radians(max_elevation_deg), distance_mm
        self.scale = 1.0
        _, kp = self(calibration)
        self.scale = head_distance / float(torch.linalg.vector_norm(kp[:, HEAD], dim=-1).mean())

    def __call__(self, poses: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 17, 3) root-relative mm -> (the poses as the new cameras see them, their normalised 2D)."""
        n, device = len(poses), poses.device
        azimuth = (torch.rand(n, device=device) * 2 - 1) * math.pi
        elevation = (torch.rand(n, device=device) * 2 - 1) * self.max_elevation
        seen = poses @ azimuth_elevation(azimuth, elevation).transpose(1, 2)
        near, far = self.distance
        depth = seen[..., 2:3] + (near + (far - near) * torch.rand(n, 1, 1, device=device))
        image = seen[..., :2] / depth
        return seen, (image - image[:, :1]) * self.scale
