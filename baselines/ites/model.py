"""ITES networks: the pose-dictionary teacher and the graph-convolution student (Xu et al., AAAI 2021).

Module names, tensor shapes and state-dict order follow the official code, so its checkpoints (`ckpt_teacher.bin`,
`ckpt_student.bin`, weights under 'model_pos') load strictly without renaming (baselines/ites/official.py): the
teacher's fully connected layers are 1x1 convolutions with 4-D weights, and the student's graph convolutions
hold `W`, `e` and `bias`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from baselines.common.geometry import (
    about_y,
    back_project,
    mean_distance,
    project,
    random_rotations,
    rodrigues,
    rotate,
)
from harness.skeletons import H36M17

# VideoPose3D's 17-joint Human3.6M skeleton (the harness's h36m17): parents, and the non-local block's joint groups
PARENTS: tuple[int, ...] = H36M17.parents
JOINT_GROUPS: tuple[tuple[int, ...], ...] = ((2, 3), (5, 6), (1, 4), (0, 7), (8, 10), (15, 16), (12, 13), (11, 14), (9,))
ROOT, HEAD = 0, 10


def _fc(n_in: int, n_out: int, std: float = 0.01) -> nn.Conv2d:
    """A fully connected layer as a 1x1 convolution, N(0, std^2) weights and zero bias."""
    layer = nn.Conv2d(n_in, n_out, kernel_size=1, bias=True)
    nn.init.normal_(layer.weight, 0.0, std)
    nn.init.zeros_(layer.bias)
    return layer


def _bn(n: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(n)
    nn.init.uniform_(bn.weight, 0.0, 1.0)
    return bn


class FcBn(nn.Module):
    """fc -> BN -> ReLU, the trunk's first layer."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = _fc(n_in, n_out), _bn(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn1(self.conv1(x)))


class Bottleneck(nn.Module):
    """width -> width/4 -> width/4 -> width, BN after each, identity skip, ReLU."""

    def __init__(self, width: int) -> None:
        super().__init__()
        narrow = width // 4
        self.conv1, self.bn1 = _fc(width, narrow), _bn(narrow)
        self.conv2, self.bn2 = _fc(narrow, narrow), _bn(narrow)
        self.conv3, self.bn3 = _fc(narrow, width), _bn(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + x)


class Teacher(nn.Module):
    """C3DPO-style pose dictionary: 2D -> (canonical shape S = dictionary(alpha), rotation R); camera pose S @ R."""

    def __init__(self, n_joints: int = 17, width: int = 1024, blocks: int = 6, basis: int = 12) -> None:
        super().__init__()
        self.n_joints = n_joints
        self.fe_net = nn.Sequential(FcBn(2 * n_joints, width), *(Bottleneck(width) for _ in range(blocks)))
        self.alpha_layer = _fc(width, basis)
        self.shape_layer = _fc(basis, 3 * n_joints)  # its weight is the basis of poses, its bias the mean pose
        self.rot_layer = _fc(width, 3)
        self.trans_layer = _fc(width, 1)  # present in the official model and its checkpoints, never used
        self.trans_layer.requires_grad_(False)

    def _features(self, kp2d: torch.Tensor) -> torch.Tensor:
        return self.fe_net(kp2d.reshape(len(kp2d), -1, 1, 1))

    def canonical(self, kp2d: torch.Tensor) -> torch.Tensor:
        """(B, J, 2) normalised 2D, fed as is -> (B, J, 3) canonical shape."""
        coeff = self.alpha_layer(self._features(kp2d))
        return self.shape_layer(coeff).view(len(kp2d), self.n_joints, 3)

    def forward(self, kp2d: torch.Tensor, align_to_root: bool = False, n_rotations: int = 4) -> TeacherOutput:
        """Root-centre the 2D, predict shape and rotation; with n_rotations > 0 also the invariance cycle."""
        centred = kp2d - kp2d[:, ROOT : ROOT + 1]
        feats = self._features(centred)
        shape = self.shape_layer(self.alpha_layer(feats)).view(len(kp2d), self.n_joints, 3)
        rotation = rodrigues(self.rot_layer(feats).flatten(1))
        camera = rotate(shape, rotation)
        rep = mean_distance(project(camera), centred)
        inv = self.invariance_loss(shape, align_to_root, n_rotations) if n_rotations else rep.new_zeros(())
        return TeacherOutput(shape, rotation, camera, rep, inv)

    def invariance_loss(self, shape: torch.Tensor, align_to_root: bool, n_rotations: int) -> torch.Tensor:
        """Rotate the canonical shape at random, project, and ask the same network for the same shape back."""
        target = shape - shape[:, ROOT : ROOT + 1] if align_to_root else shape
        target = target.repeat(n_rotations, 1, 1)
        rotated = rotate(target, random_rotations(len(target), device=shape.device))
        return mean_distance(self.canonical(project(rotated)), target)


@dataclass
class TeacherOutput:
    shape: torch.Tensor  # (B, J, 3) canonical
    rotation: torch.Tensor  # (B, 3, 3)
    camera: torch.Tensor  # (B, J, 3) shape @ rotation, root-relative camera frame
    l_rep: torch.Tensor
    l_inv: torch.Tensor


def adjacency(parents: tuple[int, ...] = PARENTS) -> torch.Tensor:
    """Symmetric bone adjacency with self-loops (0/1); only its non-zero pattern is used."""
    n = len(parents)
    adj = torch.eye(n)
    for child, parent in enumerate(parents):
        if parent >= 0:
            adj[child, parent] = adj[parent, child] = 1.0
    return adj


class SemGraphConv(nn.Module):
    """Graph convolution with separate self and neighbour weights and a learnt, row-softmaxed edge weighting."""

    def __init__(self, n_in: int, n_out: int, adj: torch.Tensor) -> None:
        super().__init__()
        self.W = nn.Parameter(torch.empty(2, n_in, n_out))
        nn.init.xavier_uniform_(self.W, gain=1.414)
        self.register_buffer("mask", adj > 0, persistent=False)
        self.e = nn.Parameter(torch.ones(1, int(self.mask.sum())))
        bound = 1.0 / n_out**0.5
        self.bias = nn.Parameter(torch.empty(n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full(self.mask.shape, -9e15, dtype=self.e.dtype, device=x.device)
        logits = logits.masked_scatter(self.mask, self.e)
        weights = torch.softmax(logits, dim=1)
        eye = torch.eye(len(weights), dtype=weights.dtype, device=x.device)
        return (weights * eye) @ (x @ self.W[0]) + (weights * (1 - eye)) @ (x @ self.W[1]) + self.bias


class NonLocalBlock(nn.Module):
    """Concatenation-style non-local block over the joint axis (Wang et al. 2018), residual, starting as identity."""

    def __init__(self, channels: int, pool: int) -> None:
        super().__init__()
        inter = channels // 2
        self.inter = inter
        self.g = nn.Sequential(nn.Conv1d(channels, inter, 1), nn.MaxPool1d(pool))
        self.theta = nn.Conv1d(channels, inter, 1)
        self.phi = nn.Sequential(nn.Conv1d(channels, inter, 1), nn.MaxPool1d(pool))
        self.concat_project = nn.Sequential(nn.Conv2d(2 * inter, 1, 1, bias=False), nn.ReLU())
        self.W = nn.Sequential(nn.Conv1d(inter, channels, 1), nn.BatchNorm1d(channels))
        for conv in (self.g[0], self.theta, self.phi[0], self.W[0]):
            nn.init.kaiming_normal_(conv.weight)
            nn.init.zeros_(conv.bias)
        nn.init.kaiming_normal_(self.concat_project[0].weight)
        nn.init.zeros_(self.W[1].weight)
        nn.init.zeros_(self.W[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, J)
        g = F.max_pool1d(_pointwise(self.g[0], x), self.g[1].kernel_size).transpose(1, 2)  # (B, J', inter)
        theta = _pointwise(self.theta, x)  # (B, inter, J)
        phi = F.max_pool1d(_pointwise(self.phi[0], x), self.phi[1].kernel_size)  # (B, inter, J')
        # the 1x1 convolution of the concatenated pair [theta_i; phi_j] is w_theta . theta_i + w_phi . phi_j:
        # computed as that sum, without building the (B, 2 inter, J, J') pair tensor
        w = self.concat_project[0].weight.view(2, self.inter)
        f = torch.relu((w[0] @ theta)[:, :, None] + (w[1] @ phi)[:, None, :]) / phi.shape[-1]  # (B, J, J')
        y = (f @ g).transpose(1, 2)  # (B, inter, J)
        return self.W[1](_pointwise(self.W[0], y)) + x


def _pointwise(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 Conv1d over (B, C, J) as one matrix product (the same weights; much faster on the CPU)."""
    return torch.einsum("oc,bcj->boj", conv.weight[..., 0], x) + conv.bias[:, None]


class GroupedNonLocal(nn.Module):
    """The non-local block applied with the joints reordered into left/right groups, then restored."""

    def __init__(self, channels: int, groups: tuple[tuple[int, ...], ...]) -> None:
        super().__init__()
        order = [j for group in groups for j in group]
        self.register_buffer("order", torch.tensor(order), persistent=False)
        self.register_buffer("restore", torch.argsort(torch.tensor(order)), persistent=False)
        self.non_local = NonLocalBlock(channels, len(groups[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, J, C)
        out = self.non_local(x[:, self.order].transpose(1, 2)).transpose(1, 2)
        return out[:, self.restore]


class GraphLayer(nn.Module):
    """gconv(x) plus the non-local view of x, BN over channels, ReLU; the input layer has no non-local part."""

    def __init__(self, n_in: int, n_out: int, adj: torch.Tensor, groups: tuple[tuple[int, ...], ...] | None) -> None:
        super().__init__()
        self.gconv = SemGraphConv(n_in, n_out, adj)
        self.non_local = GroupedNonLocal(n_out, groups) if groups else None
        self.bn = nn.BatchNorm1d(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.gconv(x)
        if self.non_local is not None:
            out = out + self.non_local(x)
        return torch.relu(self.bn(out.transpose(1, 2)).transpose(1, 2))


class ResGraphBlock(nn.Module):
    def __init__(self, width: int, adj: torch.Tensor, groups: tuple[tuple[int, ...], ...]) -> None:
        super().__init__()
        self.gconv1 = GraphLayer(width, width, adj, groups)
        self.gconv2 = GraphLayer(width, width, adj, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gconv2(self.gconv1(x))


class Student(nn.Module):
    """Graph network lifting normalised 2D to per-joint depth; its 3D reprojects exactly onto the input."""

    def __init__(
        self, hidden: int = 128, blocks: int = 4, parents: tuple[int, ...] = PARENTS, groups: tuple[tuple[int, ...], ...] = JOINT_GROUPS, bn_init: str = "ones"
    ) -> None:
        super().__init__()
        adj = adjacency(parents)
        self.gconv_input = nn.Sequential(GraphLayer(2, hidden, adj, None))
        self.gconv_layers = nn.Sequential(*(ResGraphBlock(hidden, adj, groups) for _ in range(blocks)))
        self.gconv_output = SemGraphConv(hidden, 1, adj)
        if bn_init == "uniform":  # the authors' torch 1.1 started BatchNorm scales uniformly in (0, 1), biases at 0
            for layer in self.modules():
                if isinstance(layer, GraphLayer):
                    nn.init.uniform_(layer.bn.weight)
        elif bn_init != "ones":
            raise ValueError(f"bn_init {bn_init!r}: expected 'ones' (torch >= 1.2) or 'uniform' (torch 1.1, the authors')")

    def depth(self, kp2d: torch.Tensor) -> torch.Tensor:
        """(B, J, 2) -> (B, J, 1) depth relative to the root plane."""
        return self.gconv_output(self.gconv_layers(self.gconv_input(kp2d)))

    def lift(self, kp2d: torch.Tensor) -> torch.Tensor:
        return back_project(kp2d, self.depth(kp2d))

    def forward(self, kp2d: torch.Tensor, n_rotations: int = 4) -> StudentOutput:
        """Depth and 3D; with n_rotations > 0 also the equivariance cycle about the vertical axis."""
        depth = self.depth(kp2d)
        pose = back_project(kp2d, depth)
        if not n_rotations:
            return StudentOutput(depth, pose, pose.new_zeros(()))
        rotated = rotate(pose.repeat(n_rotations, 1, 1), about_y(n_rotations * len(pose), device=pose.device))
        return StudentOutput(depth, pose, mean_distance(self.lift(project(rotated)), rotated))


@dataclass
class StudentOutput:
    depth: torch.Tensor  # (B, J, 1)
    pose: torch.Tensor  # (B, J, 3)
    l_equi: torch.Tensor


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
