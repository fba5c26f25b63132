"""The rollout of ``sciml simulate`` as a typed configuration (the same mechanism as the
run configuration, :mod:`sciml.app.config`)::

    problem: {name: navier_stokes, resolution: 64, viscosity: 1.0e-3, ...}  # PROBLEMS[name](**rest)
    initial: {n: 4, seed: 0}        # problem.sample_inputs(n) from a generator seeded by seed
    stepper:
      kind: solver                  # solver | model | corrected
      substeps: null                # solver: steps of the problem's dt per call (default: one output interval)
      checkpoint: runs/x/best.pt    # model / corrected: a checkpoint (sciml.app.load reads it)
      dt: null                      # model: overrides the checkpoint's recorded time step
      coarse_resolution: null       # corrected: run the solver on this coarser periodic grid
    steps: 10                       # stepper calls
    save_every: 1
    reference: false                # also run the problem's solver and record the error to it
    blowup_factor: 1000.0
    out: outputs/simulate/trajectory.h5
    progress: true
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sciml.validation import check_int, check_real, check_seed

from .config import ConfigError, checked, checked_optional, read_config

__all__ = ["InitialConfig", "SimulationConfig", "StepperConfig", "load_simulation_config"]


@dataclass
class InitialConfig:
    """``n`` initial states drawn by ``problem.sample_inputs`` from a generator seeded by ``seed``."""

    n: int = 1
    seed: int = 0

    def __post_init__(self):
        checked(check_int, "initial.n", self.n)
        checked(check_seed, "initial.seed", self.seed)


@dataclass
class StepperConfig:
    """``solver``: the problem's own solver, ``substeps`` of its dt per call (default: one
    output interval); ``model``: a trained stepper from ``checkpoint`` (``dt`` overrides
    the recorded time step); ``corrected``: the solver (on ``coarse_resolution`` if given)
    plus the checkpoint's model as a learned correction."""

    kind: Literal["solver", "model", "corrected"] = "solver"
    substeps: int | None = None
    checkpoint: str | None = None
    dt: float | None = None
    coarse_resolution: int | None = None

    def __post_init__(self):
        checked_optional(check_int, "stepper.substeps", self.substeps)
        checked_optional(check_int, "stepper.coarse_resolution", self.coarse_resolution)
        checked_optional(check_real, "stepper.dt", self.dt, positive=True)
        if self.kind != "solver" and not self.checkpoint:
            raise ConfigError(f"stepper.kind={self.kind} needs stepper.checkpoint (a checkpoint of a trained model)")


@dataclass
class SimulationConfig:
    """The whole rollout; ``problem`` is ``name`` plus the keywords of ``problems.PROBLEMS[name]``."""

    problem: dict[str, Any] = field(default_factory=dict)
    initial: InitialConfig = field(default_factory=InitialConfig)
    stepper: StepperConfig = field(default_factory=StepperConfig)
    steps: int = 10
    save_every: int = 1
    reference: bool = False
    blowup_factor: float = 1e3
    out: str = "outputs/simulate/trajectory.h5"
    progress: bool = True

    def __post_init__(self):
        checked(check_int, "steps", self.steps)
        checked(check_int, "save_every", self.save_every)
        if not checked(check_real, "blowup_factor", self.blowup_factor) > 1:
            raise ConfigError(f"blowup_factor must be > 1 (a multiple of the initial rms), got {self.blowup_factor!r}")
        if not self.out.strip():
            raise ConfigError("out is empty; give the HDF5 file of the trajectory, e.g. outputs/simulate/run.h5")


def load_simulation_config(path: str | Path | None = None, overrides: list[str] = (),
                           base: dict | None = None) -> SimulationConfig:
    """The simulation configuration: defaults, ``base``, the YAML file ``path``, then
    ``overrides``; values are checked beyond their types when each section is built
    (positive counts, a checkpoint for learned steppers), and the problem has a name."""
    cfg = read_config(SimulationConfig, path, overrides, base)
    if "name" not in cfg.problem:
        raise ConfigError("problem must be a mapping with a name, e.g. {name: navier_stokes, resolution: 64}")
    return cfg
