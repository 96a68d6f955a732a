"""NLRD-2D networks (Kundu et al., NeurIPS 2021, on H36M-17): the pose prior (a kinematic-tree auto-encoder
whose latent lies in (-10, 10)^32 and whose decoder builds poses from unit bone directions and template bone
lengths), its pose discriminator, the motion auto-encoder over 30 latents, and the relation transformers.
Layer sizes follow the official code (baselines.md section 3.3), re-derived for the H36M-17 tree."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from harness.skeletons import H36M17

PARENTS: tuple[int, ...] = H36M17.parents
BONES: tuple[int, ...] = tuple(j for j, p in enumerate(PARENTS) if p >= 0)  # a bone is named by its child joint
# the five limb groups, as bone (child joint) lists: trunk, then the four limbs
TRUNK, LIMBS = (7, 8, 9, 10), ((11, 12, 13), (14, 15, 16), (1, 2, 3), (4, 5, 6))  # l arm, r arm, r leg, l leg
GROUPS: tuple[tuple[int, ...], ...] = (TRUNK, *LIMBS)
BONE_INDEX: dict[int, int] = {j: i for i, j in enumerate(BONES)}  # child joint -> position in BONES order
GROUP_BONES: list[list[int]] = [[BONE_INDEX[j] for j in g] for g in GROUPS]  # each group's bones, as positions
LATENT = 32
BOUND = 10.0
_INSIDE = torch.nextafter(torch.tensor(BOUND), torch.tensor(0.0)).item()  # the largest float32 below 10


def bounded(x: torch.Tensor) -> torch.Tensor:
    """10 tanh(x / 10), kept strictly inside (-10, 10) where float32 tanh rounds to +-1."""
    return (BOUND * torch.tanh(x / BOUND)).clamp(-_INSIDE, _INSIDE)


def unbounded(z: torch.Tensor) -> torch.Tensor:
    """The inverse of `bounded` on (-10, 10)."""
    return BOUND * torch.atanh(z / BOUND)


def _lrelu(n_in: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_out), nn.LeakyReLU(0.2))


def bone_vectors(poses: torch.Tensor) -> torch.Tensor:
    """(B, 17, 3) -> (B, 16, 3) child minus parent, in BONES order."""
    return poses[:, list(BONES)] - poses[:, [PARENTS[j] for j in BONES]]


def bone_lengths(poses: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(bone_vectors(poses), dim=-1)


def template_lengths(poses: torch.Tensor) -> torch.Tensor:
    """The canonical bone lengths of the prior: the median length of each bone over `poses` (the unpaired 3D
    source), left and right averaged, scaled so that the head bone (head -> head top) is 2 as in the code."""
    lengths = bone_lengths(poses).median(dim=0).values
    mirror = H36M17.flip_permutation()
    lengths = (lengths + lengths[[BONE_INDEX[int(mirror[j])] for j in BONES]]) / 2
    return 2.0 * lengths / lengths[BONE_INDEX[H36M17.index["head_top"]]]


def chain(directions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, 16, 3) bone directions (any length; normalised here) and (16,) lengths -> (B, 17, 3) root-relative
    joints, walking the tree from the pelvis."""
    bones = F.normalize(directions, dim=-1) * lengths[:, None]
    joints: list[torch.Tensor] = [torch.zeros_like(bones[:, 0])]
    for i, j in enumerate(BONES):  # BONES is in tree order: every parent comes before its children
        joints.append(joints[PARENTS[j]] + bones[:, i])
    return torch.stack(joints, dim=1)


class PoseEncoder(nn.Module):
    """Unit bone vectors -> five limb groups (32 each) -> four trunk+limb groups (64) -> upper and lower body
    (128) -> full body (512) -> z (32), bounded."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.groups = nn.ModuleList([_lrelu(3 * len(g), width) for g in GROUPS])
        self.pairs = nn.ModuleList([_lrelu(2 * width, 2 * width) for _ in LIMBS])
        self.halves = nn.ModuleList([_lrelu(4 * width, 4 * width) for _ in range(2)])
        self.body = _lrelu(8 * width, 16 * width)
        self.out = nn.Linear(16 * width, LATENT)

    def forward(self, poses: torch.Tensor) -> torch.Tensor:
        """(B, 17, 3) root-relative poses (any scale) -> (B, 32) latents in (-10, 10)."""
        units = F.normalize(bone_vectors(poses), dim=-1)
        trunk, *limbs = [net(units[:, bones].flatten(1)) for net, bones in zip(self.groups, GROUP_BONES)]
        pairs = [net(torch.cat([trunk, limb], dim=1)) for net, limb in zip(self.pairs, limbs)]
        upper = self.halves[0](torch.cat(pairs[:2], dim=1))
        lower = self.halves[1](torch.cat(pairs[2:], dim=1))
        return bounded(self.out(self.body(torch.cat([upper, lower], dim=1))))


class PoseDecoder(nn.Module):
    """The encoder's mirror: z -> 512 -> 512 -> upper and lower body -> trunk+limb groups -> limb groups (the
    trunk's messages from its four pairs summed) -> bone directions, normalised, times the template lengths."""

    def __init__(self, lengths: torch.Tensor, width: int = 32) -> None:
        super().__init__()
        self.register_buffer("lengths", lengths.float().clone())
        self.trunk_net = nn.Sequential(_lrelu(LATENT, 16 * width), _lrelu(16 * width, 16 * width), _lrelu(16 * width, 8 * width))
        self.halves = nn.ModuleList([_lrelu(4 * width, 4 * width) for _ in range(2)])
        self.pairs = nn.ModuleList([_lrelu(2 * width, 2 * width) for _ in LIMBS])
        self.groups = nn.ModuleList([nn.Linear(width, 3 * len(g)) for g in GROUPS])
        self._width = width

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(B, 32) -> (B, 17, 3) root-relative poses whose bone lengths are exactly the template's."""
        w = self._width
        upper, lower = self.trunk_net(z).split(4 * w, dim=1)
        pair_in = [*self.halves[0](upper).split(2 * w, dim=1), *self.halves[1](lower).split(2 * w, dim=1)]
        trunk_msgs, limb_feats = zip(*(net(x).split(w, dim=1) for net, x in zip(self.pairs, pair_in)))
        feats = [torch.stack(trunk_msgs).sum(0), *limb_feats]
        raw = torch.cat([net(f).view(len(z), -1, 3) for net, f in zip(self.groups, feats)], dim=1)  # group order
        directions = torch.empty_like(raw)
        directions[:, [i for bones in GROUP_BONES for i in bones]] = raw
        return chain(directions, self.lengths)


class PoseDiscriminator(nn.Module):
    """Real 3D poses against decoded random latents: a shared per-bone net with one logit per bone, one net and
    logit per limb group, and a full-body net with one logit; the logits are averaged."""

    def __init__(self, width: int = 32, group_width: int = 200, body_width: int = 1024) -> None:
        super().__init__()
        self.bone = nn.Sequential(_lrelu(3, width), _lrelu(width, width))
        self.bone_logit = nn.Linear(width, 1)
        self.groups = nn.ModuleList([_lrelu(width * len(g), group_width) for g in GROUPS])
        self.group_logits = nn.ModuleList([nn.Linear(group_width, 1) for _ in GROUPS])
        self.body = nn.Sequential(_lrelu(len(GROUPS) * group_width, body_width), _lrelu(body_width, body_width), nn.Linear(body_width, 1))

    def logits(self, poses: torch.Tensor) -> torch.Tensor:
        """(B, 17, 3) -> (B, 22): 16 bone logits, 5 group logits, 1 body logit."""
        feats = self.bone(F.normalize(bone_vectors(poses), dim=-1))  # (B, 16, width)
        groups = [net(feats[:, bones].flatten(1)) for net, bones in zip(self.groups, GROUP_BONES)]
        group_logits = [head(g) for head, g in zip(self.group_logits, groups)]
        return torch.cat([self.bone_logit(feats)[..., 0], *group_logits, self.body(torch.cat(groups, dim=1))], dim=1)

    def forward(self, poses: torch.Tensor) -> torch.Tensor:
        return self.logits(poses).mean(dim=1)


class MotionEncoder(nn.Module):
    """(B, T, 32) latents -> (B, 128): a two-layer bidirectional LSTM, the top layer's last forward and
    backward states, a linear layer, bounded."""

    def __init__(self, hidden: int = 128, motion: int = 128) -> None:
        super().__init__()
        self.lstm = nn.LSTM(LATENT, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, motion)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(z)
        return bounded(self.out(torch.cat([h[-2], h[-1]], dim=1)))


class MotionDecoder(nn.Module):
    """(B, 128) motion code -> (B, T, 32) latents: a two-layer bidirectional LSTM whose hidden states start at
    the code and whose input is the code at every step, then a bounded linear layer per step."""

    def __init__(self, frames: int = 30, hidden: int = 128, motion: int = 128) -> None:
        super().__init__()
        self.frames = frames
        self.start = nn.Linear(motion, hidden)
        self.lstm = nn.LSTM(motion, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, LATENT)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        h0 = self.start(v).expand(4, -1, -1).contiguous()  # (layers x directions, B, hidden)
        y, _ = self.lstm(v[:, None].expand(-1, self.frames, -1), (h0, torch.zeros_like(h0)))
        return bounded(self.out(y))


class RelationTransformer(nn.Module):
    """A latent to the latent of its related input: in -> 1024 -> 512 -> out, bounded. With `residual` the
    net predicts a change of its input (its last layer starts at zero): untrained, it is the identity and
    leaves exactly the relation's latent distance, so training can only be measured against that."""

    def __init__(self, size: int, width: int = 1024, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        self.net = nn.Sequential(_lrelu(size, width), _lrelu(width, width // 2), nn.Linear(width // 2, size))
        if residual:
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bounded(unbounded(x) + self.net(x) if self.residual else self.net(x))


class ContrastiveHead(nn.Module):
    """The projection a contrastive loss compares: in -> 256 -> 128, leaky ReLU between (the code's heads)."""

    def __init__(self, size: int, width: int = 256, out: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(_lrelu(size, width), nn.Linear(width, out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class KeypointEncoder(nn.Module):
    """G2D: one frame's normalised 2D keypoints (17 x 2) -> a pose latent, bounded. An input layer, `middle`
    hidden layers (the only ones target adaptation updates, as the paper adapts only res3) and an output layer."""

    def __init__(self, n_joints: int = 17, width: int = 1024, middle: int = 2) -> None:
        super().__init__()
        self.first = _lrelu(2 * n_joints, width)
        self.middle = nn.Sequential(*(_lrelu(width, width) for _ in range(middle)))
        self.last = nn.Linear(width, LATENT)

    def features(self, kp2d: torch.Tensor) -> torch.Tensor:
        """(..., 17, 2) -> (..., width): the middle layers' output, which the pose contrastive head reads."""
        return self.middle(self.first(kp2d.flatten(-2)))

    def forward(self, kp2d: torch.Tensor) -> torch.Tensor:
        """(..., 17, 2) -> (..., 32)."""
        return bounded(self.last(self.features(kp2d)))
