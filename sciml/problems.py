"""The ``Problem`` contract and reproducible, resumable dataset generation.

A problem samples inputs (coefficients, initial conditions, ...) and solves for
outputs with a reference solver, batched. ``generate`` writes ``n`` pairs to an HDF5
file in chunks:

* chunk ``c`` is drawn from a generator seeded by ``(seed, c)``, so the data do not
  depend on the chunk schedule of a run, or on where a run was interrupted;
* every finished chunk is saved atomically as a shard next to the target; a rerun
  after an interruption skips the shards that exist;
* the HDF5 file is assembled in one pass when all shards exist (datasets without
  timestamps), written to a temporary name and renamed: the same arguments give a
  byte-identical file, interrupted or not.

Under ``torchrun`` (``WORLD_SIZE > 1`` in the environment) rank ``r`` of ``W``
generates the chunks ``c`` with ``c mod W = r``; after a barrier (gloo process
group, created if none exists) rank 0 assembles the file, which is byte-identical
to the single-process one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch

__all__ = ["Problem"]


def _rank_and_world() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world < 1 or not 0 <= rank < world:
        raise RuntimeError(f"inconsistent distributed environment: RANK={rank}, WORLD_SIZE={world}")
    return rank, world


def _barrier() -> None:
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    dist.barrier()


class Problem(ABC):
    """Base class of every problem in the ``problems`` package.

    Subclasses set ``name`` and implement :meth:`sample_inputs`, :meth:`solve`,
    :meth:`parameters` and :meth:`grid`. Time-dependent problems may also provide
    ``solver_stepper(substeps=None)``, their solver as a :class:`sciml.sim.SolverStepper`
    (what ``sciml simulate`` and classical rollouts use).
    """

    name: str = "problem"

    @abstractmethod
    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` random inputs, shape ``(n, *input_shape)``."""

    @abstractmethod
    def solve(self, inputs: torch.Tensor) -> torch.Tensor:
        """Reference solutions for a batch of inputs, shape ``(n, *output_shape)``."""

    @abstractmethod
    def parameters(self) -> dict:
        """The problem's parameters (numbers, strings, lists), stored with the data."""

    @abstractmethod
    def grid(self) -> dict[str, np.ndarray]:
        """Coordinates of the sampled fields, stored with the data."""

    def generate(self, n: int, path: str | os.PathLike, seed: int = 0, chunk_size: int = 64,
                 progress: bool = True) -> Path:
        """Write ``n`` input/output pairs to the HDF5 file ``path`` (see the module doc).

        Datasets ``inputs`` and ``outputs`` (float32 unless the problem works in
        float64), group ``grid`` with the coordinates, and attributes ``problem``,
        ``parameters`` (JSON), ``seed``, ``n``, ``chunk_size``, ``sciml_version``.
        """
        import h5py
        from tqdm.auto import tqdm

        import sciml

        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
        path = Path(path)
        meta = {"problem": self.name, "parameters": self.parameters(), "seed": int(seed), "n": n,
                "chunk_size": chunk_size, "sciml_version": sciml.__version__}
        key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
        shards = path.with_name(f".{path.name}.{key}.shards")
        shards.mkdir(parents=True, exist_ok=True)
        chunks = [(start, min(chunk_size, n - start)) for start in range(0, n, chunk_size)]
        rank, world = _rank_and_world()
        mine = [c for c in range(len(chunks)) if c % world == rank]
        todo = [c for c in mine if not (shards / f"{c:06d}.npz").exists()]
        for c in tqdm(todo, desc=f"{self.name}: chunks" + (f" (rank {rank}/{world})" if world > 1 else ""),
                      disable=not progress or rank != 0, initial=len(mine) - len(todo), total=len(mine)):
            generator = torch.Generator().manual_seed(int(seed) * 1_000_003 + c)
            inputs = self.sample_inputs(chunks[c][1], generator=generator)
            outputs = self.solve(inputs)
            tmp = shards / f"{c:06d}.tmp.npz"
            np.savez(tmp, inputs=inputs.detach().cpu().numpy(), outputs=outputs.detach().cpu().numpy())
            tmp.replace(shards / f"{c:06d}.npz")
        if world > 1:
            _barrier()
            if rank != 0:
                return path
        parts = [np.load(shards / f"{c:06d}.npz", allow_pickle=False) for c in range(len(chunks))]
        tmp_file = path.with_name(f".{path.name}.{key}.tmp")
        with h5py.File(tmp_file, "w", libver=("earliest", "v110")) as f:
            for name in ("inputs", "outputs"):
                f.create_dataset(name, data=np.concatenate([p[name] for p in parts]), track_times=False)
            group = f.create_group("grid", track_order=True)
            for name, value in self.grid().items():
                group.create_dataset(name, data=np.asarray(value), track_times=False)
            for name, value in meta.items():
                f.attrs[name] = json.dumps(value) if name == "parameters" else value
        tmp_file.replace(path)
        shutil.rmtree(shards)
        return path
