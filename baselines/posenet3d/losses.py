"""PoseNet3D objectives (reconstructed from Chen et al. 2019; weights are config values): the lift-rotate-
reproject cycle, WGAN-GP critics, and the scale-aligned distillation into the body model."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from baselines.common.geometry import azimuth_elevation, fp32

Lift = Callable[[torch.Tensor], torch.Tensor]


@fp32
def perspective(pose: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) camera-frame points -> (B, J, 2) normalised image coordinates, depth clamped at 1 (as in ITES):
    a view that swings a badly lifted joint behind the camera stays finite."""
    return pose[..., :2] / pose[..., 2:3].clamp(min=1.0)


def random_views(n: int, max_elevation: float = math.pi / 9, device: torch.device | str = "cpu") -> torch.Tensor:
    """Azimuth ~ U(-pi, pi), elevation ~ U(-max_elevation, max_elevation); (n, 3, 3) column-vector rotations."""
    azimuth = (torch.rand(n, device=device) * 2 - 1) * math.pi
    elevation = (torch.rand(n, device=device) * 2 - 1) * max_elevation
    return azimuth_elevation(azimuth, elevation)


@fp32
def turn(pose: torch.Tensor, rotation: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """Rotate (B, J, 3) about its root joint (the root stays where it is)."""
    root = pose[:, :1]
    r = rotation.transpose(1, 2) if inverse else rotation
    return (pose - root) @ r.transpose(1, 2) + root


def cycle(lift: Lift, kp2d: torch.Tensor, rotation: torch.Tensor, pose: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lift, rotate, project, lift again, rotate back, project. Returns (the 2D error of the round trip (MSE),
    the 3D error between the rotated pose and its re-lift (MSE), the synthetic 2D view, the first 3D). `pose`:
    the first lift of `kp2d`, where the caller has it already."""
    pose = lift(kp2d) if pose is None else pose
    rotated = turn(pose, rotation)
    view = perspective(rotated)
    relifted = lift(view)
    back = perspective(turn(relifted, rotation, inverse=True))
    return F.mse_loss(back, kp2d), F.mse_loss(relifted, rotated), view, pose


def critic_loss(critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, gp_weight: float = 10.0) -> torch.Tensor:
    """WGAN-GP: D(fake) - D(real) + gp_weight * (||grad D(mix)|| - 1)^2."""
    fake = fake.detach()
    alpha = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
    mix = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)[0]
    penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    return critic(fake).mean() - critic(real).mean() + gp_weight * penalty


@fp32
def scale_aligned(pose: torch.Tensor) -> torch.Tensor:
    """Root-centred and divided by the mean bone-from-root distance: poses of different units compare."""
    centred = pose - pose[:, :1]
    return centred / torch.linalg.vector_norm(centred[:, 1:], dim=-1).mean(dim=1).clamp(min=1e-6)[:, None, None]


@fp32
def bone_directions(pose: torch.Tensor, parents: tuple[int, ...]) -> torch.Tensor:
    bones = pose[:, 1:] - pose[:, list(parents[1:])]
    return F.normalize(bones, dim=-1)


def distillation(student_joints: torch.Tensor, teacher_joints: torch.Tensor, parents: tuple[int, ...], direction_weight: float = 1.0) -> torch.Tensor:
    """Mean joint distance after scale alignment, plus the mean distance between unit bone directions; gradients
    reach both sides (detach the teacher to distil one way)."""
    s, t = scale_aligned(student_joints), scale_aligned(teacher_joints)
    joints = torch.linalg.vector_norm(s - t, dim=-1).mean()
    directions = torch.linalg.vector_norm(bone_directions(s, parents) - bone_directions(t, parents), dim=-1).mean()
    return joints + direction_weight * directions
