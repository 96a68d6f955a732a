"""How many CPU threads a baseline's training or prediction uses, chosen deliberately rather than left to torch.

Torch's default is one intra-op thread per physical core, whatever else the machine is doing. On a busy
machine that oversubscribes the cores: OpenMP threads spin while waiting for each other, and a run that takes
1 minute on one thread took 7 minutes 40 seconds with the default on a loaded 2-core machine. The count also
changes the order of floating-point reductions, so a run's weights depend on it (the pinned demo runs fix it
in their config for that reason)."""

from __future__ import annotations

import os

import torch


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cpu_threads(requested: int | None = None) -> int:
    """The intra-op thread count to use: `requested` when given; else OMP_NUM_THREADS when the user set it;
    else the CPUs this process may use, less those the last minute's load average says are busy, shared among
    the processes of a torchrun job on this machine; at least 1."""
    if requested is not None:
        return max(1, requested)
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    cpus = available_cpus()
    idle = cpus - round(os.getloadavg()[0]) if hasattr(os, "getloadavg") else cpus
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    return max(1, min(cpus, idle) // local_processes)


def use_cpu_threads(requested: int | None = None) -> int:
    """Set torch's intra-op threads by `cpu_threads` and return the count."""
    n = cpu_threads(requested)
    torch.set_num_threads(n)
    return n
