"""The non-local relations of Kundu et al. on poses, 2D keypoints and sequences: the left/right flip, the
flip played backwards, and the double-speed clip against its middle played backwards; and the paper's
non-localness measure (how far a relation moves a latent)."""

from __future__ import annotations

import torch

from harness.skeletons import H36M17

FLIP_PERMUTATION = torch.as_tensor(H36M17.flip_permutation(), dtype=torch.long)


def flip(poses: torch.Tensor) -> torch.Tensor:
    """(..., 17, D) root-relative 3D (D = 3) or root-centred 2D (D = 2): x -> -x with left and right swapped.
    The mirror image of the person; an involution."""
    mirrored = poses[..., FLIP_PERMUTATION.to(poses.device), :].clone()
    mirrored[..., 0] = -mirrored[..., 0]
    return mirrored


def flip_backward(sequences: torch.Tensor) -> torch.Tensor:
    """(B, T, 17, D): every frame flipped and the order of frames reversed; applied twice, the identity."""
    return flip(sequences).flip(1)


def slow_backward(clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 2T, ...) clips -> (the clip at double speed: frames 0, 2, ..., 2T - 2; its middle T frames played
    backwards: frames T/2 + T - 1 down to T/2), the anchor and the positive of the slow-backward relation."""
    t = clips.shape[1] // 2
    return clips[:, 0 : 2 * t : 2], clips[:, t // 2 : t // 2 + t].flip(1)


def latent_distance(encode: torch.nn.Module, inputs: torch.Tensor, related: torch.Tensor) -> float:
    """The paper's non-localness of a relation: the mean Euclidean distance between the latents of inputs and
    of their related versions. A relation transformer is useful where this is large."""
    with torch.no_grad():
        return float(torch.linalg.vector_norm(encode(inputs) - encode(related), dim=-1).mean())
