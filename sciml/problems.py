"""The ``Problem`` contract, the protocols methods depend on, and reproducible,
resumable dataset generation.

Methods and the simulation layer never probe a problem with ``hasattr``: they accept
one of the runtime-checkable protocols below and check it at their public boundary
(``isinstance``, or :func:`check_problem` for an error that lists the members).

* :class:`TimeSteppingProblem`: a time-dependent problem whose solver runs as a
  :class:`~sciml.pde.Stepper` (simulations, hybrids, parareal);
* :class:`FlowDiagnosticsProblem`: energy, enstrophy and energy spectrum of 2-D
  vorticity fields (:func:`sciml.sim.flow_diagnostics`);
* :class:`ConservationLawProblem`: a one-parameter 1-D conservation law with a closed
  form and its integral mass (ProbConserv, physics-informed losses);
* :class:`ResidualProblem`: the residual of the equation on trajectories and its
  negative-Sobolev norm (the Spectral-Refiner's estimator).

A problem samples inputs (coefficients, initial conditions, ...) and solves for
outputs with a reference solver, batched. ``generate`` writes ``n`` pairs to an HDF5
file in chunks:

* chunk ``c`` is drawn from a generator seeded by ``(seed, c)``, so the data do not
  depend on the chunk schedule of a run, or on where a run was interrupted;
* every finished chunk is saved atomically as a shard next to the target, named by
  the SHA-256 of its bytes; a rerun after an interruption skips the intact shards and
  recomputes (with a warning naming it) any shard whose bytes do not match its name;
* the HDF5 file is assembled in one pass when all shards exist (datasets without
  timestamps), written to a temporary name and renamed: the same arguments give a
  byte-identical file, interrupted or not.

Under ``torchrun`` (``WORLD_SIZE > 1`` in the environment) rank ``r`` of ``W``
generates the chunks ``c`` with ``c mod W = r``; after a barrier (gloo process
group, created if none exists) rank 0 assembles the file, which is byte-identical
to the single-process one.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import shutil
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import torch

import sciml
from sciml.pde import Stepper
from sciml.validation import ArgumentTypeError, check_int, check_seed

__all__ = ["ConservationLawProblem", "FlowDiagnosticsProblem", "Problem", "ResidualProblem", "TimeSteppingProblem",
           "check_problem"]


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


_DIGEST = 32  # hex digits of a shard's SHA-256 kept in its name


def _find_shard(shards: Path, c: int) -> bytes | None:
    """The bytes of chunk ``c``'s intact shard, or ``None``; damaged shards are deleted with a warning."""
    for candidate in sorted(shards.glob(f"{c:06d}.*.npz")):
        data = candidate.read_bytes()
        digest = candidate.name.split(".")[1]
        if len(digest) == _DIGEST and hashlib.sha256(data).hexdigest()[:_DIGEST] == digest:
            return data
        warnings.warn(f"generation shard {candidate} is damaged (its content does not match the SHA-256 in its "
                      f"name: truncated, empty or altered); deleting and recomputing it", RuntimeWarning,
                      stacklevel=3)
        candidate.unlink(missing_ok=True)
    return None


class Problem(ABC):
    """Base class of every problem in the ``problems`` package.

    Subclasses set ``name`` and implement :meth:`sample_inputs`, :meth:`solve`,
    :meth:`parameters` and :meth:`grid`. What a method needs beyond that is one of the
    protocols of this module, which a problem satisfies by having the members:

    * :class:`TimeSteppingProblem` (``problems.Burgers``, ``problems.NavierStokes``);
    * :class:`FlowDiagnosticsProblem` (``problems.NavierStokes``);
    * :class:`ConservationLawProblem` (``problems.Heat``, ``PorousMedium``, ``Stefan``,
      ``Advection``, ``BurgersRamp``: the subclasses of ``problems._parametric.ParametricLaw1D``);
    * :class:`ResidualProblem` (``problems.NavierStokes``).
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

        Shards live in ``.<name>.<key>.shards`` next to ``path``, ``key`` a hash of the
        attributes: shards of other arguments are never mixed in, and are deleted (with
        other keys' temporaries) once ``path`` is written. A shard's file name holds the
        SHA-256 of its bytes; a shard that does not match it (truncated, zero bytes, a
        flipped byte) is named in a warning, deleted and recomputed.
        """
        import h5py
        from tqdm.auto import tqdm

        n, chunk_size, seed = check_int("n", n), check_int("chunk_size", chunk_size), check_seed("seed", seed)
        if not isinstance(path, (str, os.PathLike)):
            raise ArgumentTypeError(f"path must be a file name (str or os.PathLike), got {type(path).__name__}")
        if not isinstance(progress, bool):
            raise ArgumentTypeError(f"progress must be True or False, got {progress!r} ({type(progress).__name__})")
        path = Path(path)
        meta = {"problem": self.name, "parameters": self.parameters(), "seed": seed, "n": n,
                "chunk_size": chunk_size, "sciml_version": sciml.__version__}
        key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:16]
        shards = path.with_name(f".{path.name}.{key}.shards")
        shards.mkdir(parents=True, exist_ok=True)
        chunks = [(start, min(chunk_size, n - start)) for start in range(0, n, chunk_size)]
        rank, world = _rank_and_world()
        mine = [c for c in range(len(chunks)) if c % world == rank]
        todo = [c for c in mine if _find_shard(shards, c) is None]
        for c in tqdm(todo, desc=f"{self.name}: chunks" + (f" (rank {rank}/{world})" if world > 1 else ""),
                      disable=not progress or rank != 0, initial=len(mine) - len(todo), total=len(mine)):
            self._write_chunk(shards, c, chunks[c][1], seed)
        if world > 1:
            _barrier()
            if rank != 0:
                return path
        parts = []
        for c in range(len(chunks)):
            data = _find_shard(shards, c)
            if data is None:  # damaged since it was checked (or written by another rank): recompute it here
                data = self._write_chunk(shards, c, chunks[c][1], seed)
            with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
                parts.append({name: arrays[name] for name in ("inputs", "outputs")})
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
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*"):
            if stale.name.endswith(".shards") and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            elif stale.name.endswith(".tmp") and stale.is_file():
                stale.unlink(missing_ok=True)
        return path

    def _write_chunk(self, shards: Path, c: int, size: int, seed: int) -> bytes:
        """Solve chunk ``c`` (``size`` samples, generator seeded by ``(seed, c)``), save it
        atomically as the shard ``{c:06d}.{sha256 of the file}.npz`` and return its bytes."""
        generator = torch.Generator().manual_seed(seed * 1_000_003 + c)
        inputs = self.sample_inputs(size, generator=generator)
        outputs = self.solve(inputs)
        buffer = io.BytesIO()
        np.savez(buffer, inputs=inputs.detach().cpu().numpy(), outputs=outputs.detach().cpu().numpy())
        data = buffer.getvalue()
        tmp = shards / f"{c:06d}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        target = shards / f"{c:06d}.{hashlib.sha256(data).hexdigest()[:_DIGEST]}.npz"
        tmp.replace(target)
        return data


@runtime_checkable
class TimeSteppingProblem(Protocol):
    """A time-dependent problem whose solver runs as a stepper.

    Attributes:
        resolution: points per axis of the output grid (the grid data and models use).
        solver_resolution: points per axis of the grid the solver works on, a multiple
            of ``resolution``; outputs are the solver's fields subsampled by the stride
            ``solver_resolution // resolution``.

    Methods:
        sample_inputs(n, generator): ``n`` initial states on the solver grid,
            ``(n, *space)`` with ``solver_resolution`` points per axis.
        solver_stepper(substeps=None): the solver as a :class:`~sciml.pde.Stepper` on
            states ``(batch, 1, *space)`` of the solver grid; one call is ``substeps``
            solver steps (default: one output interval of the data).
        at_resolution(resolution): the same problem (same equation, parameters, time
            step and output times) solved directly on a grid of ``resolution`` points
            per axis (``resolution == solver_resolution`` there); ``ValueError`` when it
            cannot be moved (e.g. a forcing given as a tensor on the solver grid).
    """

    resolution: int
    solver_resolution: int

    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def solver_stepper(self, substeps: int | None = None) -> Stepper: ...

    def at_resolution(self, resolution: int) -> "TimeSteppingProblem": ...


@runtime_checkable
class FlowDiagnosticsProblem(Protocol):
    """Integral quantities of 2-D vorticity fields ``w`` ``(..., s, s)`` on the unit torus
    (any ``s``; float64 internally, returned in ``w``'s dtype).

    Methods:
        energy(w): kinetic energy ``E = 1/2 int |u|^2 dx`` per field, ``(...)``.
        enstrophy(w): ``Z = 1/2 int w^2 dx`` per field, ``(...)``.
        energy_spectrum(w): ``(k, E_k)``: integer wavenumbers ``k = 1 .. k_max`` and the
            shell-summed spectrum ``(..., k_max)``, ``sum_k E_k = energy(w)``.
    """

    def energy(self, w: torch.Tensor) -> torch.Tensor: ...

    def enstrophy(self, w: torch.Tensor) -> torch.Tensor: ...

    def energy_spectrum(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


@runtime_checkable
class ConservationLawProblem(Protocol):
    """A 1-D conservation law ``u_t + (F(u) - k(u) u_x)_x = 0`` on ``x_range x [0, t_end]``
    with one scalar parameter ``p`` per sample and a closed-form solution.

    ``param`` arguments are per-sample parameters, ``(n, 1)`` (or anything that reads
    as ``(n, 1, 1)``); times and positions are float64 tensors.

    Attributes:
        x_range: ``(x_0, x_1)``, the spatial domain.
        t_end: the final time.
        param_name: the parameter's name (e.g. ``"k"``, ``"m"``, ``"u_star"``).
        param_range: ``(lo, hi)``, the range :meth:`sample_inputs` draws from.

    Methods:
        sample_inputs(n, generator): parameters ``(n, 1)`` float64, uniform on ``param_range``.
        exact(param, t, x): the closed form, ``param`` read as ``(n, 1, 1)`` and broadcast
            with ``t`` and ``x``.
        mass(param, t): ``b(t) = int u dx`` over ``x_range``, ``(n, *t.shape)``.
        initial_condition(param, x): ``u(x, 0)``, ``(n, *x.shape)``.
        boundary_condition(param, t): ``(left, right)`` boundary values, each
            ``(n, *t.shape)`` or ``None`` where no condition is imposed (``None`` as a
            whole for a periodic domain).
        residual(u_fn, param, t, x): ``u_t + (F(u) - k(u) u_x)_x`` at the points ``(t, x)``
            for a differentiable ``u_fn(t, x)``, by autograd (differentiable in ``u_fn``'s
            parameters).
    """

    x_range: tuple[float, float]
    t_end: float
    param_name: str
    param_range: tuple[float, float]

    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor: ...

    def exact(self, param, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor: ...

    def mass(self, param, t: torch.Tensor) -> torch.Tensor: ...

    def initial_condition(self, param, x: torch.Tensor) -> torch.Tensor: ...

    def boundary_condition(self, param, t: torch.Tensor): ...

    def residual(self, u_fn, param, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class ResidualProblem(Protocol):
    """A time-dependent problem that exposes the residual of its equation on trajectories.

    Attributes:
        solver_resolution: points per axis of the grid the residual is evaluated on.

    Methods:
        residual(w, dt_frames): ``R(w) = d_t w - rhs(w)`` on a trajectory ``(..., T, *space)``
            of frames ``dt_frames`` apart on the solver grid, same shape.
        residual_norm(w, dt_frames): one nonnegative value per trajectory, ``(...)``: a
            norm of ``R(w)`` over space and time (differentiable in ``w``).
    """

    solver_resolution: int

    def residual(self, w: torch.Tensor, dt_frames: float) -> torch.Tensor: ...

    def residual_norm(self, w: torch.Tensor, dt_frames: float) -> torch.Tensor: ...


def check_problem(where: str, problem, protocol: type):
    """``problem`` itself when it satisfies ``protocol`` (one of this module's protocols),
    else a ``TypeError`` that names ``where``, the protocol and the members it needs."""
    if not isinstance(problem, protocol):
        members = sorted({*getattr(protocol, "__annotations__", {}),
                          *(k for k, v in vars(protocol).items() if callable(v) and not k.startswith("_"))})
        raise TypeError(f"{where} needs a {protocol.__name__} (a problem with {', '.join(members)}), got "
                        f"{type(problem).__name__}")
    return problem
