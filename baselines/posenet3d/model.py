"""PoseNet3D networks (reconstructed; see README): the Chen et al. 2019 style lifter and its 2D critics, and the
student that regresses body-model parameters. Widths follow the third-party reimplementation of Chen et al."""

from __future__ import annotations

import torch
from torch import nn

from baselines.common.geometry import identity_6d

CAMERA_DEPTH = 10.0  # the lifter's pose sits about this far from the camera, in model units


class ResidualBlock(nn.Module):
    """Two fully connected layers (with BN and dropout in the lifter, plain in the critics), identity skip."""

    def __init__(self, width: int, batch_norm: bool, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(2):
            layers.append(nn.Linear(width, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.ReLU() if batch_norm else nn.LeakyReLU(0.2))
            if dropout:
                layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


def trunk(n_in: int, width: int, blocks: int, dropout: float) -> nn.Sequential:
    """Martinez et al.'s MLP: fc + BN + ReLU + dropout, then residual blocks."""
    return nn.Sequential(nn.Linear(n_in, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout), *(ResidualBlock(width, True, dropout) for _ in range(blocks)))


class Lifter(nn.Module):
    """2D (B, J, 2) normalised, root-centred -> 3D (B, J, 3) camera-frame pose: depth z = max(0, 10 + o) + 1 per
    joint and x, y = u z, v z, so the pose reprojects exactly onto its input."""

    def __init__(self, n_joints: int = 17, width: int = 1024, blocks: int = 4, dropout: float = 0.5) -> None:
        super().__init__()
        self.trunk = trunk(2 * n_joints, width, blocks, dropout)
        self.depth = nn.Linear(width, n_joints)

    def forward(self, kp2d: torch.Tensor) -> torch.Tensor:
        z = torch.relu(CAMERA_DEPTH + self.depth(self.trunk(kp2d.flatten(1))).float()) + 1.0
        return torch.cat([kp2d * z[..., None], z[..., None]], dim=-1)


class Critic(nn.Module):
    """WGAN critic on 2D poses (or on 2D frame differences, the temporal critic): no BN, as WGAN-GP requires."""

    def __init__(self, n_joints: int = 17, width: int = 1024, blocks: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * n_joints, width), nn.LeakyReLU(0.2), *(ResidualBlock(width, False, 0.0) for _ in range(blocks)), nn.Linear(width, 1)
        )

    def forward(self, kp2d: torch.Tensor) -> torch.Tensor:
        return self.net(kp2d.flatten(1))[:, 0]


class Student(nn.Module):
    """The lifter's trunk with a body-model head: one 6-D rotation per body-model joint and shape betas."""

    def __init__(self, n_rotations: int, n_betas: int, n_joints: int = 17, width: int = 1024, blocks: int = 4, dropout: float = 0.5) -> None:
        super().__init__()
        self.n_rotations, self.n_betas = n_rotations, n_betas
        self.trunk = trunk(2 * n_joints, width, blocks, dropout)
        self.head = nn.Linear(width, 6 * n_rotations + n_betas)
        nn.init.zeros_(self.head.weight)  # start at the rest pose and the mean shape
        nn.init.zeros_(self.head.bias)

    def forward(self, kp2d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> rotations (B, n_rotations, 6) and betas (B, n_betas)."""
        out = self.head(self.trunk(kp2d.flatten(1))).float()
        rot = out[:, : 6 * self.n_rotations].view(-1, self.n_rotations, 6) + identity_6d(1, self.n_rotations, device=out.device)
        return rot, out[:, 6 * self.n_rotations :]
