"""Data-parallel training under ``torchrun``: process-group set-up from the
environment, metric reductions, and the launcher behind ``--nproc``.

Past one machine, run the same command under ``torchrun`` with its multi-node
options; nothing here is specific to a single node except :func:`launch`.
"""

from __future__ import annotations

import os
import subprocess
import sys

import torch
import torch.distributed as dist

__all__ = ["all_reduce_sum", "barrier", "launch", "setup"]


def setup() -> tuple[int, int, torch.device | None]:
    """``(rank, world_size, device)`` from torchrun's environment, initialising the
    process group (NCCL on CUDA, gloo on CPU) once. Single process: ``(0, 1, None)``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, None
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    device = None
    if cuda:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_sum(values: list[float], device) -> list[float]:
    """Sums of ``values`` over all ranks (the values themselves in one process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [float(v) for v in values]
    backend_device = device if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=backend_device)
    dist.all_reduce(t)
    return t.tolist()


def launch(nproc: int, module_argv: list[str]) -> int:
    """Run ``python -m MODULE ARGS`` in ``nproc`` processes on this machine under torchrun.
    (``--`` keeps torchrun's own option parser away from the module's options.)"""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), "-m",
           "--", *module_argv]
    return subprocess.run(cmd).returncode
