"""Device-resident training data (`data_on_device`): batches gathered from tensors held on the device are the
DistributedSampler path's batches, index for index, and a run trains to the same weights either way."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from baselines.common.config import StageConfig
from baselines.common.data import DeviceData, WindowDataset, loader
from baselines.common.training import Run, fit

CASES = [(0, 0, 0, 1), (0, 1, 0, 1), (3, 2, 1, 2), (7, 5, 2, 3)]  # (seed, epoch, rank, world)


def datasets() -> dict[str, Dataset]:
    samples = torch.randn(103, 17, 2)
    index = np.arange(0, 90, 3)[:, None] + np.arange(6)  # 30 windows of 6 frames
    return {"tensors": TensorDataset(samples, torch.arange(103) % 3 == 0), "windows": WindowDataset(samples, index)}


@pytest.mark.parametrize("kind", ["tensors", "windows"])
@pytest.mark.parametrize(("seed", "epoch", "rank", "world"), CASES)
def test_device_batches_are_the_loaders(kind, seed, epoch, rank, world):
    data = datasets()[kind]
    held = DeviceData.hold(data, "cpu")
    expected, got = list(loader(data, 8, seed, epoch, rank, world)), list(held.batches(8, seed, epoch, rank, world))
    assert len(got) == len(expected) == len(held.batches(8, seed, epoch, rank, world))
    for a, b in zip(expected, got):
        assert len(a) == len(b) and all(x.dtype == y.dtype and torch.equal(x, y) for x, y in zip(a, b))
    other = list(held.batches(8, seed + 1, epoch, rank, world))
    assert not all(torch.equal(x[0], y[0]) for x, y in zip(got, other))  # the seed matters


def test_device_batches_leave_the_global_generator_as_the_loader_does():
    data = datasets()["tensors"]
    torch.manual_seed(0)
    list(loader(data, 8, 0, 0))
    after_loader = torch.get_rng_state()
    torch.manual_seed(0)
    list(DeviceData.hold(data, "cpu").batches(8, 0, 0))
    assert torch.equal(after_loader, torch.get_rng_state())


def test_other_datasets_are_not_held():
    class Plain(Dataset):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> tuple[torch.Tensor]:
            return (torch.tensor(i),)

    assert DeviceData.hold(Plain(), "cpu") is None


def test_a_run_trains_the_same_weights_with_its_data_on_the_device(tmp_path):
    def step(model: nn.Module, batch: list[torch.Tensor], epoch: int) -> dict[str, torch.Tensor]:
        noise = torch.randn_like(batch[0]) * 0.1  # random draws after the batching, as the baselines' steps make
        return {"loss": (model(batch[0] + noise) - batch[1]).pow(2).mean()}

    weights = {}
    for on_device in (False, True):
        folder = tmp_path / str(on_device)
        folder.mkdir()
        run = Run(folder, seed=3, data_on_device=on_device)
        assert run.holds_data is on_device and Run(folder).holds_data is False  # "auto": off on the CPU
        torch.manual_seed(0)
        data = TensorDataset(torch.randn(64, 5), torch.randn(64, 2))
        model = fit("stage", nn.Linear(5, 2), data, StageConfig(epochs=3, batch_size=16), step, run)
        weights[on_device] = model.state_dict()
    assert all(torch.equal(weights[False][k], weights[True][k]) for k in weights[False])
