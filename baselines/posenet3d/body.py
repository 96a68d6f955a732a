"""Body models behind one interface for the PoseNet3D student: rotations (6-D) and shape in, H36M-17 joints out.

- `KinematicSkeleton` ("PoseNet3D-KS"): forward kinematics on the H36M-17 tree from a rest pose of bone
  directions, one local rotation per joint, and bone lengths l = l_mean * exp(B beta) with left and right
  bones tied, so lengths are symmetric and no pose changes them. Used when no SMPL model is configured.
- `SmplBody`: SMPL through `smplx` from a converted `.npz` (never a chumpy pickle), H36M-17 joints from the
  user's `J_regressor_h36m.npy` when given, else from SMPL's own joints by the documented mapping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from baselines.common.geometry import matrix_from_6d
from harness.datasets.smpl_regress import smpl_layer
from harness.skeletons import H36M17

PARENTS = H36M17.parents
# bone groups, left and right tied: the group of each non-root joint's bone (the bone from its parent)
GROUPS: tuple[str, ...] = ("hip", "thigh", "shin", "spine", "thorax", "neck", "head", "shoulder", "upper_arm", "forearm")
BONE_GROUP: dict[str, str] = {
    "r_hip": "hip", "l_hip": "hip", "r_knee": "thigh", "l_knee": "thigh", "r_ankle": "shin", "l_ankle": "shin",
    "spine": "spine", "thorax": "thorax", "head": "neck", "head_top": "head",
    "l_shoulder": "shoulder", "r_shoulder": "shoulder", "l_elbow": "upper_arm", "r_elbow": "upper_arm",
    "l_wrist": "forearm", "r_wrist": "forearm",
}
# rest pose (a T-pose in the camera's axes: x right, y down): the direction of each joint's bone
REST_DIRECTION: dict[str, tuple[float, float, float]] = {
    "r_hip": (-1, 0, 0), "l_hip": (1, 0, 0), "r_knee": (0, 1, 0), "l_knee": (0, 1, 0), "r_ankle": (0, 1, 0), "l_ankle": (0, 1, 0),
    "spine": (0, -1, 0), "thorax": (0, -1, 0), "head": (0, -1, 0), "head_top": (0, -1, 0),
    "l_shoulder": (1, 0, 0), "l_elbow": (1, 0, 0), "l_wrist": (1, 0, 0), "r_shoulder": (-1, 0, 0), "r_elbow": (-1, 0, 0), "r_wrist": (-1, 0, 0),
}
# shape basis over the groups: overall size, legs, arms, torso and head
SHAPE_BASIS: dict[str, tuple[str, ...]] = {
    "overall": GROUPS, "legs": ("hip", "thigh", "shin"), "arms": ("shoulder", "upper_arm", "forearm"), "torso": ("spine", "thorax", "neck", "head"),
}


def median_bone_lengths(poses: torch.Tensor) -> torch.Tensor:
    """(N, 17, 3) poses -> (len(GROUPS),) median length of each bone group, left and right pooled."""
    lengths = torch.linalg.vector_norm(poses[:, 1:] - poses[:, list(PARENTS[1:])], dim=-1)  # (N, 16)
    out = []
    for group in GROUPS:
        cols = [j - 1 for j, name in enumerate(H36M17.names) if BONE_GROUP.get(name) == group]
        out.append(lengths[:, cols].flatten().median())
    return torch.stack(out)


class KinematicSkeleton(nn.Module):
    """The H36M-17 skeleton as a body model: `forward(rotations_6d (B, 17, 6), betas (B, 4))` -> (B, 17, 3).

    Rotation 0 is the global orientation; rotation j turns the bones of joint j's children."""

    label = "PoseNet3D-KS"
    n_rotations = len(PARENTS)
    n_betas = len(SHAPE_BASIS)

    def __init__(self, mean_lengths: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean_lengths", torch.as_tensor(mean_lengths, dtype=torch.float32).clone())
        group_of = [GROUPS.index(BONE_GROUP[n]) for n in H36M17.names[1:]]
        self.register_buffer("group_of", torch.tensor(group_of))
        self.register_buffer("directions", torch.tensor([REST_DIRECTION[n] for n in H36M17.names[1:]], dtype=torch.float32))
        basis = torch.tensor([[float(g in groups) for g in GROUPS] for groups in SHAPE_BASIS.values()])
        self.register_buffer("basis", basis)  # (n_betas, n_groups)

    def bone_lengths(self, betas: torch.Tensor) -> torch.Tensor:
        """(B, n_betas) -> (B, 16) length of each non-root joint's bone."""
        groups = self.mean_lengths * torch.exp(betas.float() @ self.basis)
        return groups[:, self.group_of]

    def forward(self, rotations_6d: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        local = matrix_from_6d(rotations_6d)  # (B, 17, 3, 3)
        bones = self.bone_lengths(betas)[..., None] * self.directions  # (B, 16, 3)
        world = [local[:, 0]]
        joints = [torch.zeros_like(bones[:, 0])]
        for j in range(1, len(PARENTS)):
            p = PARENTS[j]
            joints.append(joints[p] + (world[p] @ bones[:, j - 1, :, None])[..., 0])
            world.append(world[p] @ local[:, j])
        return torch.stack(joints, dim=1)


SMPL_TO_H36M: dict[str, int] = {  # SMPL joint index of each H36M joint (mapping used when no regressor is given)
    "pelvis": 0, "r_hip": 2, "r_knee": 5, "r_ankle": 8, "l_hip": 1, "l_knee": 4, "l_ankle": 7, "spine": 6, "thorax": 12,
    "head": 15, "l_shoulder": 16, "l_elbow": 18, "l_wrist": 20, "r_shoulder": 17, "r_elbow": 19, "r_wrist": 21,
}
HEAD_TOP_VERTEX = 411  # the top of SMPL's head, used for H36M's head top without a regressor


class SmplBody(nn.Module):
    """SMPL as the body model: `forward(rotations_6d (B, 24, 6), betas (B, 10))` -> (B, 17, 3) H36M joints, metres."""

    label = "PoseNet3D"
    n_rotations = 24
    n_betas = 10

    def __init__(self, model_file: Path, h36m_regressor: Path | None = None) -> None:
        super().__init__()
        self.smpl = smpl_layer(
            Path(model_file), "posenet3d smpl_model", num_betas=self.n_betas,
            create_global_orient=False, create_body_pose=False, create_betas=False, create_transl=False,
        )
        self.mapped = h36m_regressor is None
        if h36m_regressor is None:
            self.register_buffer("regressor", torch.zeros(0))
        else:
            self.register_buffer("regressor", torch.from_numpy(np.load(h36m_regressor, allow_pickle=False).astype(np.float32)))
        self.label = "PoseNet3D" + (" (SMPL joints mapped to H36M)" if self.mapped else "")

    def forward(self, rotations_6d: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        mats = matrix_from_6d(rotations_6d)
        out = self.smpl(global_orient=mats[:, :1], body_pose=mats[:, 1:], betas=betas.float(), pose2rot=False)
        if not self.mapped:
            joints = torch.einsum("jv,bvc->bjc", self.regressor, out.vertices)
        else:
            smpl_joints = out.joints[:, :24]
            idx = [SMPL_TO_H36M.get(n, 0) for n in H36M17.names]
            joints = smpl_joints[:, idx].clone()
            joints[:, H36M17.index["head_top"]] = out.vertices[:, HEAD_TOP_VERTEX]
        return joints - joints[:, :1]
