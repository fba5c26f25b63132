"""``sciml simulate CONFIG``: the rollout a :class:`~sciml.app.SimulationConfig` describes,
written to HDF5.

The problem comes from ``problems.PROBLEMS`` and must be a
:class:`~sciml.problems.TimeSteppingProblem`. The state lives on the problem's output grid
(``resolution``): initial conditions are drawn on the solver grid and subsampled to it, as
``Problem.generate`` subsamples its outputs, and the solver stepper is the same problem
solved directly on that grid (``problem.at_resolution``). The optional reference runs the
problem's own solver on the solver grid; problems that are also
:class:`~sciml.problems.FlowDiagnosticsProblem` record energy, enstrophy, mean and spectrum.

The file holds ``states (T, n, channels, *space)``, ``times``, one dataset per diagnostic
under ``diagnostics/``, and attributes ``status``, ``message``, ``steps``, ``wall_time``,
``stepper`` and ``config`` (JSON); it is written to a temporary name and renamed, so an
interrupted run leaves no partial file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from problems import PROBLEMS
from sciml.problems import FlowDiagnosticsProblem, TimeSteppingProblem
from sciml.sim import CorrectedStepper, ResampledStepper, Rollout, Simulation, Stepper, flow_diagnostics

from .config import ConfigError, build_section, to_dict
from .loading import NoTimeStepError, load_stepper
from .simulation_config import SimulationConfig

__all__ = ["simulate", "write_rollout"]


def _problem(spec: dict) -> TimeSteppingProblem:
    spec = dict(spec)
    name = spec.pop("name")
    if name not in PROBLEMS:
        raise ConfigError(f"problem.name: unknown problem {name!r}; known: {', '.join(sorted(PROBLEMS))}")
    problem = build_section("problem", PROBLEMS[name], spec)
    if not isinstance(problem, TimeSteppingProblem):
        raise ConfigError(f"problem {name!r} is not a time-stepping problem (sciml.problems.TimeSteppingProblem: "
                          f"resolution, solver_resolution, solver_stepper, at_resolution); simulate needs one")
    return problem


def _at_resolution(problem: TimeSteppingProblem, resolution: int) -> TimeSteppingProblem:
    try:
        return problem.at_resolution(resolution)
    except ValueError as err:
        raise ConfigError(f"problem: {err}") from None


def _stepper(cfg: SimulationConfig, problem: TimeSteppingProblem) -> Stepper:
    s = cfg.stepper
    if s.kind == "solver":
        return _at_resolution(problem, problem.resolution).solver_stepper(s.substeps)
    try:
        learned = load_stepper(s.checkpoint, dt=s.dt)
    except NoTimeStepError:
        raise ConfigError(f"stepper.checkpoint {s.checkpoint} records no time step (it was not trained on time "
                          f"pairs, data.step_lag); set stepper.dt in the config") from None
    if s.kind == "model":
        return learned
    base = _at_resolution(problem, s.coarse_resolution or problem.resolution).solver_stepper(s.substeps)
    if s.coarse_resolution:
        ndim = sum(axis in problem.grid() for axis in ("x", "y", "z"))
        base = ResampledStepper(base, (s.coarse_resolution,) * ndim)
    if abs(base.dt - learned.dt) > 1e-9 * base.dt:
        raise ConfigError(f"the solver step ({base.dt:g}) and the model's ({learned.dt:g}) differ; set "
                          f"stepper.substeps so that they match")
    return CorrectedStepper(base, learned.model, name="corrected")


def _reference(cfg: SimulationConfig, problem: TimeSteppingProblem, dt: float, u0: torch.Tensor) -> torch.Tensor:
    """The problem's own solver on its solver grid, sampled every ``dt``."""
    fine = problem.solver_stepper(1)
    n_sub = round(dt / fine.solver_dt)
    if abs(n_sub * fine.solver_dt - dt) > 1e-9 * dt:
        raise ConfigError(f"the reference solver's dt ({fine.solver_dt:g}) does not divide the step ({dt:g})")
    return Simulation(problem.solver_stepper(n_sub)).run(u0.unsqueeze(1), cfg.steps, cfg.save_every).states


def write_rollout(path: str | os.PathLike, rollout: Rollout, config: dict) -> Path:
    """Write ``rollout`` and its ``config`` (plain data, stored as JSON) to the HDF5 file
    ``path`` atomically (see the module doc for the layout)."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("states", data=rollout.states.detach().cpu().numpy(), compression="gzip")
        f.create_dataset("times", data=rollout.times.numpy())
        group = f.create_group("diagnostics")
        for name, values in rollout.diagnostics.items():
            group.create_dataset(name, data=values.detach().cpu().numpy())
        for key in ("status", "message", "steps", "wall_time", "stepper"):
            f.attrs[key] = getattr(rollout, key)
        f.attrs["config"] = json.dumps(config)
    os.replace(tmp, path)
    return path


def simulate(cfg: SimulationConfig) -> tuple[Path, Rollout]:
    """Run the configuration (see :func:`~sciml.app.load_simulation_config`); returns the
    HDF5 path and the :class:`~sciml.sim.Rollout`."""
    if Path(cfg.out).is_dir():
        raise ConfigError(f"out: {cfg.out} is a directory; give the HDF5 file of the trajectory, e.g. "
                          f"{Path(cfg.out) / 'trajectory.h5'}")
    problem = _problem(cfg.problem)
    stepper = _stepper(cfg, problem)
    generator = torch.Generator().manual_seed(cfg.initial.seed)
    u0 = problem.sample_inputs(cfg.initial.n, generator=generator).to(torch.float64)
    stride = problem.solver_resolution // problem.resolution
    coarse = u0[(Ellipsis, *(slice(None, None, stride),) * (u0.dim() - 1))].unsqueeze(1)
    reference = _reference(cfg, problem, stepper.dt, u0) if cfg.reference else None
    on_grid = _at_resolution(problem, problem.resolution)
    diagnostics = flow_diagnostics(on_grid) if isinstance(on_grid, FlowDiagnosticsProblem) else {}
    rollout = Simulation(stepper, diagnostics, cfg.blowup_factor).run(
        coarse, cfg.steps, cfg.save_every, reference=reference, progress=cfg.progress)
    return write_rollout(cfg.out, rollout, to_dict(cfg)), rollout
