"""`compile` (torch.compile of each stage's step model): a real baseline network trains to the same weights as
in eager mode, within float32 rounding, on the CPU (the CUDA modes, CUDA graphs included, run in gpu_check.sh)."""

from __future__ import annotations

import pytest
import torch
import torch._inductor.config
from torch.utils.data import TensorDataset

from baselines.common.training import Run, distributed_run, fit
from baselines.ites.config import StudentConfig
from baselines.ites.losses import student_step
from baselines.ites.model import Student
from harness.errors import BadInput

pytestmark = pytest.mark.slow  # compiling takes a minute or two on a CPU


@pytest.fixture
def one_thread():
    """Compile runs on the CPU with one thread only (see the last test); the count is restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_compiled_student_trains_to_the_eager_weights(tmp_path, monkeypatch, one_thread):
    monkeypatch.setattr(torch._inductor.config, "fallback_random", True)  # compiled graphs draw eager's random numbers
    cfg = StudentConfig(epochs=1, batch_size=32, max_steps=3, optimizer="sgd", lr=1e-2, rotations=1, hidden=16, blocks=1)  # SGD: rounding stays rounding (Adam scales near-zero gradients up to lr)
    torch.manual_seed(0)
    kp2d, depths = torch.randn(96, 17, 2) * 0.1, torch.randn(96, 17, 1)
    weights = {}
    for mode in (None, "default"):
        torch.manual_seed(1)
        model = Student(cfg.hidden, cfg.blocks)
        run = Run(tmp_path / str(mode), seed=0, compile=mode)
        run.folder.mkdir()
        weights[mode] = fit("student", model, TensorDataset(kp2d, depths), cfg, student_step(cfg), run).state_dict()
    moved = {k: float((weights["default"][k].float() - weights[None][k].float()).abs().max()) for k in weights[None]}
    assert max(moved.values()) < 1e-4, sorted(moved.items(), key=lambda kv: -kv[1])[:3]
    torch.manual_seed(1)
    start = Student(cfg.hidden, cfg.blocks).state_dict()
    assert any(not torch.equal(start[k], weights["default"][k]) for k in start)  # it trained


def test_compile_on_several_cpu_threads_is_refused_in_one_line(tmp_path):
    """torch 2.13.0's inductor crashed (a segmentation fault in the compiled backward of the ITES student) with 2
    CPU threads on the project's machine and ran with 1, so that combination is refused before anything starts."""
    with pytest.raises(BadInput, match="compile: on the CPU only with one thread"):
        with distributed_run(tmp_path, 0, "cpu", threads=2, compile="default"):
            pass
