"""Train and test splits for the 2D-to-3D baselines, read through the harness's own dataset loaders.

The 2D normalisation is the one of the unsupervised lifting literature (ITES): centre each pose on its root,
divide by the camera's focal length (normalised camera coordinates), then multiply the whole split by one
scalar so that the mean root-to-head distance is 1/5, i.e. a pose about one unit tall seen from depth 5.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from harness.config import DatasetsConfig
from harness.datasets import load_dataset
from harness.datasets.base import TestSet
from harness.errors import BadInput
from harness.skeletons import H36M17, joint_map

TARGET_HEAD_DISTANCE = 1.0 / 5.0
HEAD = H36M17.index["head_top"]  # joint 10, the head of VideoPose3D's skeleton


@dataclass
class PoseSplit:
    """One split as the baselines see it: normalised H36M-17 2D per sample, and the harness test set behind it."""

    test: TestSet
    kp2d: np.ndarray  # (N, 17, 2) float32, normalised, root at the origin
    scale: float  # the global factor that was applied

    def tensor(self) -> torch.Tensor:
        return torch.from_numpy(self.kp2d)

    def next_frame(self) -> np.ndarray:
        """Index of each sample's next frame in the same sequence (the sample itself at a sequence's end)."""
        nxt = np.arange(1, len(self.kp2d) + 1)
        seqs = self.test.sequences
        nxt[(seqs["start"] + seqs["length"] - 1).to_numpy()] -= 1
        return nxt


def load_split(config: DatasetsConfig, dataset: str, split: str, source: str) -> TestSet:
    """A split with one 2D source loaded; a missing source is a one-line error."""
    test = load_dataset(config, dataset, split=split, inputs_2d=[source])
    if source not in test.inputs_2d:
        raise BadInput(f"{dataset}: no 2D source '{source}' for the {split} split (have: {', '.join(test.inputs_2d) or 'none'})")
    return test


def to_h36m17(kp: np.ndarray, joints: str) -> np.ndarray:
    """Reorder (N, J, C) keypoints of joint set `joints` into the Human3.6M 17-joint order, by joint name."""
    return kp[:, joint_map(joints, H36M17)]


def focal_lengths(test: TestSet) -> np.ndarray | None:
    """(N, 2) focal length in pixels of every sample's camera, or None where the split has no intrinsics."""
    if not test.intrinsics:
        return None
    per_seq = np.array([test.intrinsics[c]["f"] for c in test.sequences["camera"]], dtype=np.float64)
    return np.repeat(per_seq, test.sequences["length"].to_numpy(), axis=0)


def normalise_2d(kp_px: np.ndarray, focal: np.ndarray | None, scale: float | None = None, head_distance: float = TARGET_HEAD_DISTANCE) -> tuple[np.ndarray, float]:
    """Root-centre (N, 17, 2) pixels, divide by the focal length (by 1000 px where it is unknown), and scale.

    With `scale` None the factor is computed from these poses: mean root-to-head distance `head_distance`."""
    centred = kp_px.astype(np.float64) - kp_px[:, :1]
    centred /= focal[:, None, :] if focal is not None else 1000.0
    if scale is None:
        scale = float(head_distance / np.linalg.norm(centred[:, HEAD], axis=-1).mean())
    return (centred * scale).astype(np.float32), scale


def pose_split(test: TestSet, source: str, scale: float | None = None, head_distance: float = TARGET_HEAD_DISTANCE) -> PoseSplit:
    """The split's 2D source in H36M-17 order, normalised; `scale` None computes the split's own factor."""
    kp = to_h36m17(test.inputs_2d[source], test.joint_set)
    norm, used = normalise_2d(kp, focal_lengths(test), scale, head_distance)
    return PoseSplit(test, norm, used)


def subsample(n: int, keep: int | None) -> np.ndarray:
    """Indices of `keep` evenly spaced samples out of n (all of them when keep is None or not smaller)."""
    return np.arange(n) if keep is None or keep >= n else np.linspace(0, n - 1, keep).round().astype(int)


def windows(sequences: pd.DataFrame, length: int, stride: int = 1) -> np.ndarray:
    """(M, length) sample indices of every window of `length` consecutive frames inside one sequence, the
    windows starting every `stride` frames; sequences shorter than `length` give none."""
    starts = [s + np.arange(0, n - length + 1, stride) for s, n in zip(sequences["start"], sequences["length"]) if n >= length]
    first = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
    return first[:, None] + np.arange(length)


class WindowDataset(Dataset):
    """Windows of consecutive samples, gathered on access (never materialised): item i is
    (samples[index[i]],), shape (length, ...)."""

    def __init__(self, samples: torch.Tensor, index: np.ndarray) -> None:
        self.samples, self.index = samples, torch.from_numpy(np.ascontiguousarray(index))

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor]:
        return (self.samples[self.index[i]],)


def _sampler(data: Dataset, seed: int, epoch: int, rank: int, world: int, shuffle: bool) -> DistributedSampler:
    """This rank's share of one epoch, in the seeded order every path and machine draws alike."""
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=shuffle, seed=seed)
    sampler.set_epoch(epoch)
    return sampler


def loader(data: Dataset, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1, shuffle: bool = True) -> DataLoader:
    """Seeded batches of this rank's shard: the same order for the same (seed, epoch) on every machine."""
    return DataLoader(data, batch_size=batch_size, sampler=_sampler(data, seed, epoch, rank, world, shuffle))


@dataclass
class DeviceData:
    """A TensorDataset's tensors, or a WindowDataset's samples and windows, copied to the device once; batches are
    gathered there, in the order `loader` gives, with no host-to-device copy per step."""

    tensors: list[torch.Tensor]
    windows: torch.Tensor | None  # a WindowDataset's (M, length) sample indices; None for a TensorDataset

    @classmethod
    def hold(cls, data: Dataset, device: torch.device | str) -> DeviceData | None:
        """`data` on `device`; None for a dataset of another kind (it is batched by `loader`)."""
        if isinstance(data, TensorDataset):
            return cls([t.to(device) for t in data.tensors], None)
        if isinstance(data, WindowDataset):
            return cls([data.samples.to(device)], data.index.to(device))
        return None

    def __len__(self) -> int:
        return len(self.windows if self.windows is not None else self.tensors[0])

    def gather(self, items: torch.Tensor) -> list[torch.Tensor]:
        """The batch of these item indices, as the DataLoader would collate it."""
        rows = self.windows[items] if self.windows is not None else items
        return [t[rows] for t in self.tensors]

    def batches(self, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1, shuffle: bool = True) -> DeviceBatches:
        """One epoch of this rank's batches: the indices `loader` draws for the same (seed, epoch, rank, world)."""
        order = torch.tensor(list(_sampler(self, seed, epoch, rank, world, shuffle)), dtype=torch.long)  # type: ignore[arg-type]
        return DeviceBatches(self, order.to(self.tensors[0].device), batch_size)


@dataclass
class DeviceBatches:
    """One epoch of batches gathered on the device (one index copy per epoch)."""

    data: DeviceData
    order: torch.Tensor
    batch_size: int

    def __len__(self) -> int:
        return math.ceil(len(self.order) / self.batch_size)

    def __iter__(self) -> Iterator[list[torch.Tensor]]:
        # a DataLoader draws its workers' base seed from the global generator when an epoch starts; the same draw
        # here leaves that generator where the loader path leaves it, so a run is the same whichever path batches it
        torch.empty((), dtype=torch.int64).random_()
        for items in self.order.split(self.batch_size):
            yield self.data.gather(items)
