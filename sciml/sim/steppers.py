"""Steppers: one protocol for classical solvers, trained models and their hybrids.

A stepper advances a batch of states ``(batch, channels, *space)`` by a fixed time
``dt``: ``u_next = stepper(u)``. Anything with that call and a ``dt`` attribute is a
:class:`Stepper`, so a simulation does not care whether its step is a PDE solver, a
trained operator or both:

* :class:`~sciml.pde.SolverStepper`: ``substeps`` steps of a problem's own solver step
  (problems with a time stepper expose it as ``problem.solver_stepper()``); it and the
  :class:`~sciml.pde.Stepper` protocol live in :mod:`sciml.pde`, which the problems
  build on, and :mod:`sciml.sim` re-exports them;
* :class:`LearnedStepper`: a trained model ``u(t) -> u(t + dt)`` (or the increment),
  e.g. from a checkpoint (``sciml.app.load_stepper``);
* :class:`CorrectedStepper`: a learned correction on a (coarse) solver step,
  ``u_next = v + c(v)`` with ``v = solver(u)`` (the "learned correction" of Kochkov et
  al., PNAS 2021, and of solver-in-the-loop training);
* :class:`ResampledStepper`: runs another stepper on a coarser or finer periodic grid
  (Fourier restriction and interpolation around it);
* the operator prediction refined by the solver: :func:`sciml.sim.parareal`.

Steppers do not switch off autograd: a rollout through a differentiable stepper can be
differentiated (inverse problems); :class:`sciml.sim.Simulation` runs without gradients
unless asked.
"""

from __future__ import annotations

import torch
from torch import nn

from sciml.pde import SpectralGrid, Stepper, check_dt, check_states
from sciml.validation import ArgumentTypeError, check_int

__all__ = ["CorrectedStepper", "LearnedStepper", "ResampledStepper", "correction_pairs"]


class LearnedStepper(nn.Module):
    """A trained model as a stepper: ``u_next = model(u)`` or, with ``residual=True``,
    ``u + model(u)``. Inputs are cast to the model's dtype and outputs back to the
    caller's, so a float32 model steps float64 solver states."""

    def __init__(self, model: nn.Module, dt: float, residual: bool = False, name: str = "model"):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ArgumentTypeError(f"model must be an nn.Module (its parameters set the input dtype and are "
                                    f"trained), got {type(model).__name__}; wrap a function in a Module")
        if not isinstance(residual, bool):
            raise ArgumentTypeError(f"residual must be True or False, got {residual!r}")
        self.model, self.dt, self.residual, self.name = model, check_dt(dt), residual, name

    def _model_dtype(self, u):
        for p in self.model.parameters() if isinstance(self.model, nn.Module) else ():
            return p.dtype
        return u.dtype

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        check_states(u, self.name)
        x = u.to(self._model_dtype(u))
        y = self.model(x)
        if y.shape != x.shape:
            raise ValueError(f"{self.name}: a stepper model must map a state to a state of the same shape; "
                             f"{tuple(x.shape)} -> {tuple(y.shape)}")
        return (x + y if self.residual else y).to(u.dtype)


class CorrectedStepper(nn.Module):
    """A learned correction on a solver step: ``v = base(u)``, ``u_next = v + correction(v)``."""

    def __init__(self, base: Stepper, correction: nn.Module, name: str = "corrected"):
        super().__init__()
        self.base, self.correction, self.name = base, correction, name
        self.dt = check_dt(base.dt)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        v = self.base(u)
        c = self.correction(v.to(next(self.correction.parameters()).dtype)).to(v.dtype)
        if c.shape != v.shape:
            raise ValueError(f"{self.name}: the correction must have the state's shape {tuple(v.shape)}, "
                             f"got {tuple(c.shape)}")
        return v + c


class ResampledStepper:
    """Run ``stepper`` on a periodic grid of ``shape`` (Fourier truncation onto it, Fourier
    interpolation back): e.g. a coarse solver inside a fine simulation."""

    def __init__(self, stepper: Stepper, shape):
        if not isinstance(stepper, Stepper):
            raise TypeError(f"stepper must be callable with a dt attribute (the Stepper protocol), got "
                            f"{type(stepper).__name__}")
        shape = tuple(check_int(f"shape[{i}]", n, minimum=2) for i, n in enumerate(shape))
        self.stepper, self.shape, self.dt = stepper, shape, check_dt(stepper.dt)
        self.name = f"{getattr(stepper, 'name', 'stepper')} (resampled)"

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        check_states(u, self.name)
        space = tuple(u.shape[2:])
        if len(space) != len(self.shape):
            raise ValueError(f"{self.name}: states with {len(space)} space axes cannot be resampled to {self.shape}")
        coarse = SpectralGrid(space).resample(u, self.shape)
        return SpectralGrid(self.shape).resample(self.stepper(coarse), space)


@torch.no_grad()
def correction_pairs(base: Stepper, trajectories: torch.Tensor, chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Training pairs for the correction of a :class:`CorrectedStepper`: for trajectories
    ``(n, T, *space)`` of one-channel states whose frames are ``base.dt`` apart, the inputs
    ``v = base(u_k)`` and the targets ``u_{k+1} - v``, each ``(n (T - 1), 1, *space)``
    (samples outer, frames inner), in ``chunk``-sized batches of ``base`` calls."""
    if not isinstance(trajectories, torch.Tensor) or trajectories.dim() < 3 or trajectories.shape[1] < 2:
        got = tuple(trajectories.shape) if isinstance(trajectories, torch.Tensor) else type(trajectories).__name__
        raise ValueError(f"trajectories must be (n, T >= 2, *space), got {got}")
    chunk = check_int("chunk", chunk)
    now = trajectories[:, :-1].flatten(0, 1).unsqueeze(1)
    after = trajectories[:, 1:].flatten(0, 1).unsqueeze(1)
    stepped = torch.cat([base(block) for block in now.split(chunk)])
    return stepped, after.to(stepped) - stepped
