"""Pieces of NLRD-2D's target adaptation (baselines.md sections 3.4 and 3.6): the contrastive loss and the
pose-invariant keypoint noise that makes its positives (the paper's appearance augmentations have no 2D
counterpart; in-plane rotation is never used, since the paper treats it as a pose relation)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def info_nce(anchors: torch.Tensor, positives: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """(B, D) embeddings: -log of each anchor's similarity to its own positive against that and its similarity to
    the other B - 1 anchors (the code's negatives), cosine similarity over `temperature`, averaged over every
    anchor (the code uses only the first; a fix)."""
    a, p = F.normalize(anchors, dim=-1), F.normalize(positives, dim=-1)
    logits = (a @ a.T).diagonal_scatter((a * p).sum(-1)) / temperature
    return F.cross_entropy(logits, torch.arange(len(anchors), device=anchors.device))


@dataclass(frozen=True)
class KeypointNoise:
    """Gaussian jitter of `jitter` (normalised units; 0.003 is about 3 px of a 1,000 px focal length at the
    demo's scale), one global scale in [1 - `scale`, 1 + `scale`] per window, and joints dropped with
    probability `dropout` and filled in from the neighbouring frames. Root-centred again at the end."""

    jitter: float = 0.003
    scale: float = 0.1
    dropout: float = 0.1

    def __call__(self, windows: torch.Tensor) -> torch.Tensor:
        """(B, T, 17, 2) normalised, root-centred keypoint windows -> their noisy copies."""
        b = len(windows)
        out = windows * (1 + (torch.rand(b, 1, 1, 1, device=windows.device) * 2 - 1) * self.scale)
        out = out + torch.randn_like(out) * self.jitter
        dropped = torch.rand(out.shape[:-1], device=windows.device) < self.dropout
        out = torch.where(dropped[..., None], interpolate_in_time(out), out)
        return out - out[:, :, :1]

    def some_frames(self, windows: torch.Tensor, probability: float) -> torch.Tensor:
        """(B, T, 17, 2) windows with each frame replaced by its noisy copy with `probability`, independently:
        the code's per-frame colour change of a relation loss's input (p = 1/3), in keypoints."""
        if probability <= 0:
            return windows
        noisy = self(windows)
        chosen = torch.rand(windows.shape[:2], device=windows.device) < probability
        return torch.where(chosen[..., None, None], noisy, windows)


def interpolate_in_time(windows: torch.Tensor) -> torch.Tensor:
    """(B, T, ...) -> each frame replaced by the mean of its two neighbours (by its one neighbour at the ends)."""
    before = torch.cat([windows[:, 1:2], windows[:, :-1]], dim=1)
    after = torch.cat([windows[:, 1:], windows[:, -2:-1]], dim=1)
    return (before + after) / 2
