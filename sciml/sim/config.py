"""``sciml simulate CONFIG``: a rollout described by a YAML file, written to HDF5.

Keys (unknown ones are rejected, listing the known ones)::

    problem: {name: navier_stokes, resolution: 64, viscosity: 1.0e-3, ...}  # PROBLEMS[name](**rest)
    initial: {n: 4, seed: 0}        # problem.sample_inputs(n) from a generator seeded by seed
    stepper:
      kind: solver                  # solver | model | corrected
      substeps: null                # solver: steps of the problem's dt per call (default: one output interval)
      checkpoint: runs/x/best.pt    # model / corrected: a `sciml train` checkpoint
      dt: null                      # model: overrides the checkpoint's recorded time step
      coarse_resolution: null       # corrected: run the solver on this coarser periodic grid
    steps: 10                       # stepper calls
    save_every: 1
    reference: false                # also run the problem's solver and record the error to it
    blowup_factor: 1000.0
    out: outputs/simulate/trajectory.h5
    progress: true

The state lives on the problem's output grid (``resolution``); initial conditions are
drawn on the solver grid and subsampled to it, as ``Problem.generate`` subsamples its
outputs. The file holds ``states (T, n, channels, *space)``, ``times``, one dataset per
diagnostic under ``diagnostics/``, and attributes ``status``, ``message``, ``steps``,
``wall_time``, ``stepper`` and ``config`` (JSON); it is written to a temporary name and
renamed, so an interrupted run leaves no partial file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

__all__ = ["SimulationConfigError", "load_simulation_config", "simulate"]

_TOP = {"problem", "initial", "stepper", "steps", "save_every", "reference", "blowup_factor", "out", "progress"}
_STEPPER = {"kind", "substeps", "checkpoint", "dt", "coarse_resolution"}
_INITIAL = {"n", "seed"}


class SimulationConfigError(ValueError):
    """A simulation configuration is invalid; the message names the key."""


def load_simulation_config(path_or_dict) -> dict:
    """Read (YAML file) or take (dict) a configuration, fill defaults, check keys and types."""
    if isinstance(path_or_dict, dict):
        raw = dict(path_or_dict)
    else:
        import yaml

        path = Path(path_or_dict)
        if not path.is_file():
            raise SimulationConfigError(f"configuration {path} does not exist")
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise SimulationConfigError(f"{path} must hold a mapping of keys, got {type(raw).__name__}")
    for section, known, value in (("", _TOP, raw), ("stepper.", _STEPPER, raw.get("stepper", {})),
                                  ("initial.", _INITIAL, raw.get("initial", {}))):
        if not isinstance(value, dict):
            raise SimulationConfigError(f"{section.rstrip('.')} must be a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - known)
        if unknown:
            raise SimulationConfigError(f"unknown key(s) {', '.join(section + k for k in unknown)}; known: "
                                        f"{', '.join(section + k for k in sorted(known))}")
    problem = raw.get("problem")
    if not isinstance(problem, dict) or "name" not in problem:
        raise SimulationConfigError("problem must be a mapping with a name, e.g. {name: navier_stokes, resolution: 64}")
    cfg = {"problem": dict(problem), "initial": {"n": 1, "seed": 0, **raw.get("initial", {})},
           "stepper": {"kind": "solver", "substeps": None, "checkpoint": None, "dt": None, "coarse_resolution": None,
                       **raw.get("stepper", {})},
           "steps": raw.get("steps", 10), "save_every": raw.get("save_every", 1),
           "reference": bool(raw.get("reference", False)), "blowup_factor": float(raw.get("blowup_factor", 1e3)),
           "out": str(raw.get("out", "outputs/simulate/trajectory.h5")), "progress": bool(raw.get("progress", True))}
    for key in ("steps", "save_every"):
        if isinstance(cfg[key], bool) or not isinstance(cfg[key], int) or cfg[key] < 1:
            raise SimulationConfigError(f"{key} must be a positive int, got {cfg[key]!r}")
    n = cfg["initial"]["n"]
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SimulationConfigError(f"initial.n must be a positive int, got {n!r}")
    kind = cfg["stepper"]["kind"]
    if kind not in ("solver", "model", "corrected"):
        raise SimulationConfigError(f"stepper.kind must be solver, model or corrected, got {kind!r}")
    if kind != "solver" and not cfg["stepper"]["checkpoint"]:
        raise SimulationConfigError(f"stepper.kind={kind} needs stepper.checkpoint (a `sciml train` checkpoint)")
    return cfg


def _build_problem(spec: dict):
    from problems import PROBLEMS

    spec = dict(spec)
    name = spec.pop("name")
    if name not in PROBLEMS:
        raise SimulationConfigError(f"unknown problem {name!r}; known: {', '.join(sorted(PROBLEMS))}")
    try:
        problem = PROBLEMS[name](**spec)
    except TypeError as err:
        raise SimulationConfigError(f"problem: {err}") from None
    if not hasattr(problem, "solver_stepper"):
        raise SimulationConfigError(f"problem {name!r} has no time stepper (solver_stepper); simulate needs a "
                                    f"time-dependent problem")
    return problem


def _at_resolution(problem, resolution: int | None = None):
    """The same problem solved directly on a grid of ``resolution`` (default: its output
    grid, the grid the simulation state lives on)."""
    import inspect

    resolution = problem.resolution if resolution is None else int(resolution)
    if getattr(problem, "solver_resolution", resolution) == resolution == problem.resolution:
        return problem
    params = problem.parameters()
    if params.get("forcing") == "custom":
        raise SimulationConfigError("a custom forcing tensor cannot be moved to another grid here; run the problem "
                                    "with resolution == solver_resolution")
    accepted = inspect.signature(type(problem)).parameters
    kwargs = {k: v for k, v in params.items() if k in accepted and k not in ("forcing", "solver_resolution")}
    if "forcing" in params:
        kwargs["forcing"] = None if params["forcing"] == "none" else params["forcing"]
    kwargs["resolution"] = resolution
    return type(problem)(**kwargs)


def _stepper(cfg: dict, problem):
    from sciml.sim import CorrectedStepper, ResampledStepper, load_stepper

    s = cfg["stepper"]
    if s["kind"] == "solver":
        return _at_resolution(problem).solver_stepper(s["substeps"])
    learned = load_stepper(s["checkpoint"], dt=s["dt"])
    if s["kind"] == "model":
        return learned
    base = _at_resolution(problem, s["coarse_resolution"]).solver_stepper(s["substeps"])
    if s["coarse_resolution"]:
        ndim = sum(axis in problem.grid() for axis in ("x", "y", "z"))
        base = ResampledStepper(base, (int(s["coarse_resolution"]),) * ndim)
    if abs(base.dt - learned.dt) > 1e-9 * base.dt:
        raise SimulationConfigError(f"the solver step ({base.dt:g}) and the model's ({learned.dt:g}) differ; set "
                                    f"stepper.substeps so that they match")
    return CorrectedStepper(base, learned.model, name="corrected")


def _write(path: Path, rollout, cfg: dict) -> Path:
    import h5py

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
        f.attrs["config"] = json.dumps(cfg)
    os.replace(tmp, path)
    return path


def simulate(config) -> tuple[Path, object]:
    """Run the configuration (file or dict); returns the HDF5 path and the :class:`Rollout`."""
    from sciml.sim import Simulation, flow_diagnostics

    cfg = load_simulation_config(config)
    problem = _build_problem(cfg["problem"])
    stepper = _stepper(cfg, problem)
    generator = torch.Generator().manual_seed(int(cfg["initial"]["seed"]))
    u0 = problem.sample_inputs(cfg["initial"]["n"], generator=generator).to(torch.float64)
    stride = getattr(problem, "solver_resolution", problem.resolution) // problem.resolution
    coarse = u0[(Ellipsis, *(slice(None, None, stride),) * (u0.dim() - 1))].unsqueeze(1)
    reference = None
    if cfg["reference"]:
        fine = problem.solver_stepper(1)
        n_sub = round(stepper.dt / fine.solver_dt)
        if abs(n_sub * fine.solver_dt - stepper.dt) > 1e-9 * stepper.dt:
            raise SimulationConfigError(f"the reference solver's dt ({fine.solver_dt:g}) does not divide the step "
                                        f"({stepper.dt:g})")
        fine = problem.solver_stepper(n_sub)
        reference = Simulation(fine).run(u0.unsqueeze(1), cfg["steps"], cfg["save_every"]).states
    diagnostics = flow_diagnostics(_at_resolution(problem)) if hasattr(problem, "energy_spectrum") else {}
    rollout = Simulation(stepper, diagnostics, cfg["blowup_factor"]).run(
        coarse, cfg["steps"], cfg["save_every"], reference=reference, progress=cfg["progress"])
    return _write(Path(cfg["out"]), rollout, cfg), rollout
