"""Rotations and the perspective camera of the unsupervised lifting baselines (batched torch, row vectors)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

import torch
import torch.nn.functional as F

F_ = TypeVar("F_", bound=Callable[..., Any])

CAMERA_DEPTH = 5.0  # the pose's root sits this far in front of the camera, in model units


def fp32(fn: F_) -> F_:
    """Run `fn` in float32 with autocast off: divisions, norms and trigonometry stay out of bf16."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        args = tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
        device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
        with torch.autocast(device, enabled=False):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def hat(v: torch.Tensor) -> torch.Tensor:
    """(N, 3) vectors -> (N, 3, 3) skew-symmetric cross-product matrices."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).view(*v.shape[:-1], 3, 3)


@fp32
def rodrigues(log_rot: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Axis-angle (N, 3) -> rotation matrices (N, 3, 3) by Rodrigues' formula; `eps` keeps the zero angle finite."""
    angle = (log_rot * log_rot).sum(-1).clamp(min=0.0).sqrt()
    inv = 1.0 / (angle + eps)
    k = hat(log_rot)
    eye = torch.eye(3, dtype=log_rot.dtype, device=log_rot.device).expand_as(k)
    return (inv * angle.sin())[..., None, None] * k + (inv * inv * (1.0 - angle.cos()))[..., None, None] * (k @ k) + eye


def random_rotations(n: int, max_angle: float = math.pi, axes: tuple[float, float, float] = (1.0, 1.0, 1.0), device: torch.device | str = "cpu") -> torch.Tensor:
    """n rotations: axis the normalised Gaussian vector masked by `axes`, angle uniform in [0, max_angle].

    Not Haar-uniform: the angle is uniform, as in the published method."""
    mask = torch.tensor(axes, device=device)
    axis = F.normalize(torch.randn(n, 3, device=device) * mask, dim=1)
    angle = torch.rand(n, device=device) * max_angle
    return rodrigues(axis * angle[:, None])


def about_y(n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """n rotations about the camera's vertical axis, angle uniform in [0, 2 pi)."""
    return random_rotations(n, 2 * math.pi, (0.0, 1.0, 0.0), device)


@fp32
def project(points: torch.Tensor, depth: float = CAMERA_DEPTH) -> torch.Tensor:
    """(..., J, 3) root-relative points in front of a camera at `depth` -> (..., J, 2), depth clamped at 1."""
    return points[..., :2] / torch.clamp(depth + points[..., 2:3], min=1.0)


@fp32
def back_project(kp2d: torch.Tensor, z: torch.Tensor, depth: float = CAMERA_DEPTH) -> torch.Tensor:
    """Lift (..., J, 2) normalised 2D with per-joint relative depth (..., J, 1) to 3D that projects back onto it."""
    return torch.cat([kp2d * torch.clamp(z + depth, min=1.0), z], dim=-1)


@fp32
def rotate(points: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """(B, J, 3) row-vector points times (B, 3, 3) rotations."""
    return points @ rotation


@fp32
def matrix_from_6d(x: torch.Tensor) -> torch.Tensor:
    """(..., 6) continuous rotation representation (Zhou et al. 2019) -> (..., 3, 3) by Gram-Schmidt; columns
    are the basis vectors, so the zero-rotation is (1, 0, 0, 0, 1, 0)."""
    a, b = x[..., :3], x[..., 3:]
    e1 = F.normalize(a, dim=-1)
    e2 = F.normalize(b - (e1 * b).sum(-1, keepdim=True) * e1, dim=-1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2)], dim=-1)


def identity_6d(*shape: int, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], device=device).expand(*shape, 6).clone()


@fp32
def azimuth_elevation(azimuth: torch.Tensor, elevation: torch.Tensor) -> torch.Tensor:
    """(N,) angles -> (N, 3, 3) column-vector rotations: elevation about the camera x axis after azimuth about y."""
    ca, sa, ce, se = azimuth.cos(), azimuth.sin(), elevation.cos(), elevation.sin()
    one, zero = torch.ones_like(ca), torch.zeros_like(ca)
    about_y_ = torch.stack([ca, zero, sa, zero, one, zero, -sa, zero, ca], -1).view(-1, 3, 3)
    about_x = torch.stack([one, zero, zero, zero, ce, -se, zero, se, ce], -1).view(-1, 3, 3)
    return about_x @ about_y_


@fp32
def mean_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance over every point (the last axis holds the coordinates); not squared."""
    return torch.linalg.vector_norm(a - b, dim=-1).mean()
