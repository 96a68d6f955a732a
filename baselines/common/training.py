"""The training loop every baseline uses: devices, DistributedDataParallel, checkpoints with resume, progress,
and a JSON-lines metrics log.

Run under `torchrun --nproc_per_node N` for several GPUs (or CPU processes, gloo): each rank trains on its own
shard of every epoch, DDP all-reduces the gradients, and rank 0 alone evaluates, logs and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as torch_dist
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from baselines.common.config import RunConfig, StageConfig
from baselines.common.data import DeviceData, loader
from baselines.common.threads import use_cpu_threads
from harness.errors import BadInput

SHOW_LOSS_EVERY = 25  # steps between updates of the running loss in the progress bar

# a step takes the (wrapped) model, one batch and the epoch; it returns named scalar losses, 'loss' the total
StepFn = Callable[[nn.Module, list[torch.Tensor], int], dict[str, torch.Tensor]]


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA when present (or asked for), CPU otherwise; under torchrun each rank takes its local GPU."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' asked for, but torch sees no CUDA GPU")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(requested)


@dataclass
class Run:
    """Where a training run writes and how it computes: folder, seed, device, process group, bf16, CPU threads,
    and where the training tensors live."""

    folder: Path
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rank: int = 0
    world: int = 1
    bf16: bool = True  # bf16 autocast of the networks on CUDA; geometry stays float32
    threads: int = 1  # CPU intra-op threads of this process
    autocast_cpu: bool = False  # bf16 autocast on the CPU too (tests of the mixed-precision path), when `bf16`
    data_on_device: bool | str = "auto"  # training tensors held and batched on the device; "auto": on CUDA only
    compile: str | None = None  # torch.compile mode of each stage's step model ("reduce-overhead": CUDA graphs too); None: eager
    console: Console = field(default_factory=lambda: Console(stderr=True, markup=False, highlight=False))

    @property
    def where(self) -> str:
        """How the run computes, for its opening line."""
        return f"device {self.device}, {self.world} process(es), {self.threads} CPU thread(s) each"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast of a step's forward pass: on CUDA when `bf16`, on the CPU only when `autocast_cpu` asks
        for it as well; otherwise nothing (float32, the pinned CPU runs)."""
        if self.bf16 and (self.device.type == "cuda" or self.autocast_cpu):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @property
    def holds_data(self) -> bool:
        """Whether `fit` keeps the training tensors on the device and gathers its batches there."""
        return self.device.type == "cuda" if self.data_on_device == "auto" else bool(self.data_on_device)

    def log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to metrics.jsonl (rank 0 only)."""
        if self.is_main:
            with open(self.folder / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")

    def barrier(self) -> None:
        if self.world > 1:
            torch_dist.barrier()


@contextlib.contextmanager
def distributed_run(
    folder: Path, seed: int, device: str = "auto", bf16: bool = True, threads: int | None = None, autocast_cpu: bool = False, data_on_device: bool | str = "auto",
    compile: str | None = None,
) -> Iterator[Run]:
    """A Run for this process, with its CPU threads set (`cpu_threads`); under torchrun (WORLD_SIZE > 1) it joins
    the process group (nccl on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    n_threads = use_cpu_threads(threads)
    dev = pick_device(device)
    if compile is not None and dev.type == "cpu" and n_threads > 1:
        raise BadInput(f"compile: on the CPU only with one thread (threads: 1); torch {torch.__version__}'s compiled backward crashed with {n_threads} on the machine this was written on")
    if world > 1 and not torch_dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        torch_dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    rank = torch_dist.get_rank() if world > 1 else 0
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield Run(folder, seed, dev, rank, world, bf16, n_threads, autocast_cpu=autocast_cpu, data_on_device=data_on_device, compile=compile)
    finally:
        if world > 1 and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def config_run(folder: Path, cfg: RunConfig) -> contextlib.AbstractContextManager[Run]:
    """`distributed_run` with a baseline config's device, precision, thread and data settings."""
    return distributed_run(folder, cfg.seed, cfg.device, cfg.bf16, cfg.threads, cfg.autocast_cpu, cfg.data_on_device, cfg.compile)


def _save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # never a half-written checkpoint


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


@dataclass
class Adversary:
    """A network trained in the same stage against the model (a GAN critic): its own optimiser, updated before
    the model on every batch, frozen while the model's loss is back-propagated. Its `step` makes whatever it
    needs of the model itself (without gradients)."""

    module: nn.Module
    step: StepFn
    cfg: StageConfig
    updates: int = 1  # critic updates per model update (WGAN's n_critic), each on the same batch


@dataclass
class RoundRobin:
    """Losses of one model taken in turn, one per step, each with its own optimiser over its own parameters
    (NLRD's target adaptation). The model's forward returns `turn`, the index of the group it computed."""

    groups: list[tuple[list[nn.Parameter], float]]  # each turn's parameters and learning rate


def _optimiser(params: list[nn.Parameter], cfg: StageConfig) -> tuple[torch.optim.Optimizer, Any]:
    if cfg.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=cfg.adam_betas, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "rmsprop":  # TensorFlow's defaults (decay 0.9, epsilon 1e-10), as the NLRD code uses them
        opt = torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.9, eps=1e-10, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, milestones=cfg.lr_milestones, gamma=cfg.lr_gamma)


def _wrap(module: nn.Module, run: Run, some_unused: bool = False) -> nn.Module:
    """DDP over the process group (`some_unused`: not every step reaches every parameter)."""
    if run.world == 1:
        return module
    return DistributedDataParallel(module, device_ids=[run.device.index] if run.device.type == "cuda" else None, find_unused_parameters=some_unused)


def fit(
    name: str,
    model: nn.Module,
    data: Dataset,
    cfg: StageConfig,
    step: StepFn,
    run: Run,
    on_epoch_end: Callable[[nn.Module, int], dict[str, float]] | None = None,
    adversary: Adversary | None = None,
    round_robin: RoundRobin | None = None,
    some_unused: bool = False,
) -> nn.Module:
    """Train `model` for one stage; resumes from `<folder>/<name>.ckpt` and skips a stage already finished there.

    Returns the trained (unwrapped) model. `on_epoch_end(model, epoch)` runs on rank 0 after every epoch
    (evaluation on the harness, for one) and its numbers go into the metrics log. Without `round_robin` one
    optimiser at `cfg.lr` trains every parameter that requires gradients. `some_unused`: not every step reaches
    every parameter (turn-based objectives; round-robin implies it), which DDP must be told."""
    model.to(run.device)
    ckpt_path = run.folder / f"{name}.ckpt"
    groups = round_robin.groups if round_robin is not None else [([p for p in model.parameters() if p.requires_grad], cfg.lr)]
    optimizers, schedulers = zip(*(_optimiser(params, dataclasses.replace(cfg, lr=lr)) for params, lr in groups))
    if adversary is not None:
        adversary.module.to(run.device)
        adv_optimizer, adv_scheduler = _optimiser(list(adversary.module.parameters()), adversary.cfg)
    start_epoch, steps_done = 0, 0
    if ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location=run.device, weights_only=False)
        model.load_state_dict(state["model"])
        if adversary is not None:
            adversary.module.load_state_dict(state["adversary"]["model"])
        if state["epoch"] >= cfg.epochs or (cfg.max_steps is not None and state["steps"] >= cfg.max_steps):
            if run.is_main:
                run.console.print(f"{name}: finished earlier, loaded {ckpt_path}")
            return model.eval()
        for optimizer, scheduler, saved, saved_scheduler in zip(optimizers, schedulers, state["optimizers"], state["schedulers"]):
            optimizer.load_state_dict(saved)
            scheduler.load_state_dict(saved_scheduler)
        if adversary is not None:
            adv_optimizer.load_state_dict(state["adversary"]["optimizer"])
            adv_scheduler.load_state_dict(state["adversary"]["scheduler"])
        start_epoch, steps_done = state["epoch"], state["steps"]
        _set_rng_state(state["rng"][min(run.rank, len(state["rng"]) - 1)], run.device)
        if run.is_main:
            run.console.print(f"{name}: resuming after epoch {start_epoch} from {ckpt_path}")
    else:
        torch.manual_seed(run.seed + 1000 * run.rank)
    wrapped = _wrap(model, run, some_unused=some_unused or round_robin is not None)
    if run.compile is not None:
        wrapped = torch.compile(wrapped, mode=run.compile)  # the same parameters; fewer, fused kernels
    adv_wrapped = _wrap(adversary.module, run) if adversary is not None else None

    done, seen_by_rank = False, 0
    per_rank = rank_batch(cfg.batch_size, run.world, name)
    held = DeviceData.hold(data, run.device) if run.holds_data else None  # one copy for the whole stage
    for epoch in range(start_epoch, cfg.epochs):
        batches = held.batches(per_rank, run.seed, epoch, run.rank, run.world) if held is not None else loader(data, per_rank, run.seed, epoch, run.rank, run.world)
        model.train()
        sums: dict[str, torch.Tensor] = {}  # kept on the device: reading a loss would stall a GPU every step
        counts: dict[str, int] = {}  # samples behind each sum (a round-robin turn reports only its own losses)
        seen, started = 0, time.perf_counter()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"), TimeElapsedColumn())
        with Progress(*columns, console=run.console, transient=True, disable=not run.is_main) as bar:
            task = bar.add_task(f"{name} epoch {epoch + 1}/{cfg.epochs}", total=len(batches), loss="")
            for batch in batches:
                batch = [t.to(run.device, non_blocking=True) for t in batch]
                adv_losses: dict[str, torch.Tensor] = {}
                if adversary is not None:
                    adversary.module.requires_grad_(True)
                    for _ in range(adversary.updates):
                        with run.autocast():
                            adv_losses = adversary.step(adv_wrapped, batch, epoch)
                        adv_optimizer.zero_grad(set_to_none=True)
                        adv_losses["loss"].backward()
                        adv_optimizer.step()
                    adversary.module.requires_grad_(False)  # the model's loss uses it, but must not train it
                with run.autocast():  # the forward pass; backward runs outside, as autocast wants
                    losses = step(wrapped, batch, epoch)
                model.zero_grad(set_to_none=True)
                losses["loss"].backward()
                optimizers[int(losses.pop("turn", 0))].step()
                losses |= {f"critic_{k}": v for k, v in adv_losses.items()}
                n = len(batch[0])
                seen += n
                seen_by_rank += n
                for key, value in losses.items():
                    weighted = value.detach().float() * n
                    sums[key] = sums[key] + weighted if key in sums else weighted
                    counts[key] = counts.get(key, 0) + n
                steps_done += 1
                shown = {"loss": f"loss {float(sums['loss']) / counts['loss']:.4f}"} if steps_done % SHOW_LOSS_EVERY == 0 else {}
                bar.update(task, advance=1, **shown)
                if cfg.max_steps is not None and steps_done >= cfg.max_steps:
                    done = True
                    break
        for scheduler in schedulers:
            scheduler.step()
        if adversary is not None:
            adv_scheduler.step()
        seconds = time.perf_counter() - started
        record: dict[str, Any] = {"stage": name, "epoch": epoch + 1, "steps": steps_done, "lr": optimizers[0].param_groups[0]["lr"]}
        record |= {key: float(value) / counts[key] for key, value in sums.items()}
        record |= {"samples": seen * run.world, "seconds": round(seconds, 3), "samples_per_s": round(seen * run.world / seconds, 1), "threads": run.threads}
        if run.is_main:
            if on_epoch_end is not None:
                model.eval()
                record |= on_epoch_end(model, epoch)
            state = {
                "stage": name, "epoch": epoch + 1, "steps": steps_done, "model": model.state_dict(),
                "optimizers": [o.state_dict() for o in optimizers], "schedulers": [s.state_dict() for s in schedulers], "rng": [_rng_state(run.device)],
            }
            if adversary is not None:
                state["adversary"] = {"model": adversary.module.state_dict(), "optimizer": adv_optimizer.state_dict(), "scheduler": adv_scheduler.state_dict()}
            _save(ckpt_path, state)
            run.log(record)
            run.console.print(" ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))
        run.barrier()
        if done:
            break
    if run.world > 1:  # what each rank did: its own share of the samples, and (all-reduced gradients) the same weights
        ranks: list[Any] = [None] * run.world
        checksum = float(sum(p.detach().double().sum() for p in model.parameters()))
        torch_dist.all_gather_object(ranks, {"rank": run.rank, "samples": seen_by_rank, "param_checksum": checksum})
        run.log({"stage": name, "ranks": ranks})
    if adversary is not None:
        adversary.module.requires_grad_(True)
    model.eval()
    return model


@torch.no_grad()
def rank_batch(global_batch: int, world: int, stage: str) -> int:
    """Each process's share of a stage's global batch: any number of processes trains the same schedule (the
    same samples per optimiser step, steps per epoch and learning rate), since DDP averages their gradients."""
    if global_batch % world:
        raise BadInput(f"{stage}.batch_size: {global_batch} is the global batch of all {world} processes and must divide among them; use a multiple of {world}")
    return global_batch // world


def recalibrate_batchnorm(model: nn.Module, inputs: torch.Tensor, forward: Callable[[nn.Module, torch.Tensor], Any], device: torch.device | str, batch_size: int = 128) -> nn.Module:
    """Replace every BatchNorm layer's running statistics by their exact average over `inputs` seen in batches.

    Training leaves running statistics that are a moving average over batches taken while the weights still
    moved, and over the synthetic batches of the cycle losses; after a short schedule they can be far from
    the statistics of real inputs, and eval-mode predictions suffer. `forward(model, batch)` is the
    prediction pass. Deterministic, so every rank and every rerun gets the same statistics."""
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return model
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the batches
    model.train()
    for chunk in inputs.split(batch_size):
        forward(model, chunk.to(device))
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum
    return model.eval()
