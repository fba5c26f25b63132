"""Neural ODEs on the solver core, and the global solver-heuristic regularisers of Pal,
Ma, Shah & Rackauckas (ICML 2021).

:class:`NeuralODE` solves ``dz/dt = f_theta(t, z)`` with :func:`sciml.solvers.solve_ode`
and keeps the last solve's statistics (``nfe`` of the forward pass, ``nfe_backward`` of
an adjoint backward pass, accepted/rejected steps).

Global regularisers, from the same forward solve at no extra evaluations:

* ERNODE: ``R_E = sum_j |h_j| E_j`` over accepted steps, ``E_j`` the scaled embedded
  error estimate (``stats.error_sum``);
* ``"error_squared"``: ``sum_j E_j^2`` (the paper's variant for the Physionet latent ODE);
* SRNODE: ``R_S = sum_j |h_j| S_j / s``, ``S_j`` the stiffness (``|lambda|``) estimate and
  ``s`` the method's stability size along the negative real axis (the tableau's
  ``stability_size``; Tsit5: 3.5068), so
  ``S h / s > 1`` flags a step at its stability limit.

``reduction="mean"`` divides by the number of accepted steps (what the reference code
computes; its lambda is then the paper's times the step count). Step sizes and
accept/reject decisions are solver control, constants for the gradient: the
regularisers need gradients through the solver, so asking for them together with a
continuous (backsolve) adjoint is an error.

Local regularisation (Pal, Edelman & Rackauckas, ICML 2023), ``local="unbiased"`` or
``"biased"``: each forward pass draws one time ``t_s`` (uniform on ``[t_0, t_1]``, or
uniform over the accepted step start times of the previous solve), adds it to the
output times so that ``u(t_s)`` comes from the solver's dense output (and is dropped
from the returned states), and takes one differentiable step of the method from
``(t_s, u(t_s))`` with the standard initial step size ``h`` (chosen without gradient);
the regulariser is ``E(t_s) h``. It only adds evaluations (counted in ``nfe``) and
works with every gradient mode, the adjoint included.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sciml.solvers import TABLEAUX, BacksolveAdjoint, initial_step_size, solve_ode, step_error
from sciml.validation import ArgumentTypeError, check_choice, check_int, check_real, check_seed

from ._local import LastSolve, check_local, sample_time, with_time

__all__ = ["LambdaSchedule", "NeuralODE", "local_error", "regularizer"]

KINDS = ("error", "error_squared", "stiffness")


class NeuralODE(LastSolve, nn.Module):
    """``z(t)`` from ``z(t_0) = z0`` under ``dz/dt = func(t, z)``.

    Args:
        func: the vector field, an ``nn.Module`` called as ``func(t, z)``.
        method, rtol, atol: of :func:`~sciml.solvers.solve_ode` (Tsit5 by default).
        adjoint: ``False`` (backpropagate through the solver) or ``True`` /
            a ``BacksolveAdjoint`` (O(1) memory; no regularisers).
        regularize: ``None``, ``"error"`` (ERNODE), ``"error_squared"`` or ``"stiffness"``
            (SRNODE): the solve then also records the quantity :func:`regularizer` needs.
        local, seed: local regularisation and the seed of its time sampling.
        dt, adaptive, controller, max_steps, per_sample: of :func:`~sciml.solvers.solve_ode`.
    """

    def __init__(self, func: nn.Module, method: str = "tsit5", rtol: float = 1e-6, atol: float = 1e-6,
                 adjoint=False, regularize: str | None = None, local: str | None = None, seed: int = 0, *,
                 dt: float | None = None, adaptive: bool | None = None, controller=None, max_steps: int = 100_000,
                 per_sample: bool = False):
        super().__init__()
        if not isinstance(func, nn.Module):
            raise ArgumentTypeError(f"func must be an nn.Module called as func(t, z) (its parameters are trained), "
                                    f"got {type(func).__name__}; wrap a function in a Module")
        method = check_choice("method", method, TABLEAUX)
        rtol, atol = check_real("rtol", rtol, positive=True), check_real("atol", atol, positive=True)
        seed = check_seed("seed", seed)
        if not isinstance(adjoint, (bool, BacksolveAdjoint)):
            raise ArgumentTypeError(f"adjoint must be True, False or a BacksolveAdjoint, got {adjoint!r}")
        for flag, value in (("adaptive", adaptive), ("per_sample", per_sample)):
            if value is not None and not isinstance(value, bool):
                raise ArgumentTypeError(f"{flag} must be True or False, got {value!r}")
        solver_kwargs = {"max_steps": check_int("max_steps", max_steps)}
        if dt is not None:
            solver_kwargs["dt"] = check_real("dt", dt, positive=True)
        if adaptive is not None:
            solver_kwargs["adaptive"] = adaptive
        if controller is not None:
            solver_kwargs["controller"] = controller
        if per_sample:
            solver_kwargs["per_sample"] = per_sample
        if regularize not in (None, *KINDS):
            raise ValueError(f"regularize must be None or one of {KINDS}, got {regularize!r}")
        check_local(local)
        if local is not None and regularize is not None:
            raise ValueError("choose global (regularize=...) or local (local=...) regularisation, not both")
        if regularize is not None and adjoint is not False:
            raise ValueError("the ERNODE/SRNODE regularisers differentiate the solver's own error and stiffness "
                             "estimates, which a continuous (backsolve) adjoint does not define: use adjoint=False, "
                             "or local regularisation, which works with every gradient mode")
        self.func, self.method, self.rtol, self.atol = func, method, rtol, atol
        self.adjoint, self.regularize, self.solver_kwargs = adjoint, regularize, solver_kwargs
        self.local, self.generator = local, torch.Generator().manual_seed(seed)
        self.stats, self.local_value, self.local_nfe, self.t_s = None, None, 0, None
        self._step_starts: list[float] = []
        self.register_buffer("iterations", torch.zeros((), dtype=torch.long))  # training steps taken

    def forward(self, z0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """States at the times ``t`` ``(T,)``: ``(T, *z0.shape)`` (a tuple for tuple states);
        the statistics go to ``self.stats``."""
        like = z0[0] if isinstance(z0, tuple) else z0
        t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
        if self.local is None or not self.training:
            sol = self._solve(z0, t)
            self.local_value, self.local_nfe = None, 0
            return sol.ys
        if isinstance(z0, tuple):
            raise ValueError("local regularisation takes a tensor state")
        times = t.tolist()
        t_s = sample_time(self.generator, self.local, times[0], times[-1], self._step_starts)
        merged, at, keep = with_time(times, t_s)
        sol = self._solve(z0, torch.tensor(merged, dtype=z0.dtype, device=z0.device))
        self.local_value, self.local_nfe = local_error(self.func, t_s, sol.ys[at], times[-1], self.method, self.rtol,
                                                       self.atol)
        self.t_s = t_s
        return sol.ys[keep]

    def _solve(self, z0, t):
        sol = solve_ode(self.func, z0, t, method=self.method, rtol=self.rtol, atol=self.atol, adjoint=self.adjoint,
                        stiffness=self.regularize == "stiffness", **self.solver_kwargs)
        self._record(sol.stats, float(t[0]))
        return sol

    def regularization(self, reduction: str = "sum") -> torch.Tensor:
        """:func:`regularizer` of the last solve, or the local ``E(t_s) h`` with ``local``."""
        if self.local is not None:
            if self.local_value is None:
                raise RuntimeError("run the model in training mode first: the local step is taken in forward")
            return self.local_value
        if self.regularize is None or self.stats is None:
            raise RuntimeError("build NeuralODE(..., regularize='error' or 'stiffness') and run it first")
        return regularizer(self.stats, self.regularize, reduction, self.method)


def regularizer(stats, kind: str = "error", reduction: str = "sum", method: str = "tsit5") -> torch.Tensor:
    """``R_E = sum_j |h_j| E_j`` (``kind="error"``), ``sum_j E_j^2`` (``"error_squared"``;
    adaptive solves with one step size for the batch) or ``R_S`` (``"stiffness"``, divided
    by the method's stability size) from a solve's ``stats``; ``reduction`` ``"sum"`` or
    ``"mean"`` over the accepted steps."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    if kind == "error":
        if stats.error_sum is None:
            raise ValueError("the solve has no error estimate: use an adaptive method (bosh3, dopri5, tsit5)")
        value = stats.error_sum
    elif kind == "error_squared":
        if not stats.step_errors:
            raise ValueError("'error_squared' needs the per-step errors of an adaptive solve with one step size "
                             "for the batch (no per_sample, no fixed-step method)")
        value = torch.stack(stats.step_errors).square().sum()
    else:
        if stats.stiffness_sum is None:
            raise ValueError("the solve recorded no stiffness estimate: pass stiffness=True (NeuralODE does "
                             "with regularize='stiffness')")
        size = TABLEAUX[method].stability_size if method in TABLEAUX else None
        if size is None:
            raise ValueError(f"no stability size known for method {method!r}")
        value = stats.stiffness_sum / size
    if reduction == "mean":
        value = value / torch.as_tensor(stats.n_accepted, dtype=value.dtype).clamp_min(1)
    return value


class LambdaSchedule:
    """Regularisation weight per epoch: ``"constant"`` (``lam0``) or ``"exponential"``,
    ``lam0 exp(-e ln(lam0 / lam1) / epochs)`` from ``lam0`` at epoch 0 to ``lam1`` at ``epochs``
    (the paper's 100 -> 10 over 75 epochs for MNIST)."""

    def __init__(self, lam0: float, lam1: float | None = None, epochs: int = 1, kind: str = "constant"):
        if kind not in ("constant", "exponential"):
            raise ValueError(f"kind must be 'constant' or 'exponential', got {kind!r}")
        if kind == "exponential" and not (lam0 > 0 and lam1 is not None and lam1 > 0 and epochs >= 1):
            raise ValueError("an exponential schedule needs lam0 > 0, lam1 > 0 and epochs >= 1")
        self.lam0, self.lam1, self.epochs, self.kind = float(lam0), lam1, int(epochs), kind

    def __call__(self, epoch: int) -> float:
        if self.kind == "constant":
            return self.lam0
        return self.lam0 * math.exp(-epoch * math.log(self.lam0 / self.lam1) / self.epochs)


def local_error(func, t_s: float, u_s: torch.Tensor, t1: float, method: str = "tsit5", rtol: float = 1e-6,
                atol: float = 1e-6) -> tuple[torch.Tensor, int]:
    """``(E h, nfe)`` of one differentiable step of ``method`` from ``(t_s, u_s)``, ``h`` the
    Hairer–Norsett–Wanner initial step (two evaluations, no gradient), capped at ``t1 - t_s``."""
    tab = TABLEAUX[method]
    with torch.no_grad():
        h = initial_step_size(func, float(t_s), u_s.detach(), tab.error_order, rtol, atol)
    h = min(float(h), t1 - t_s) if t1 > t_s else float(h)
    est = step_error(func, t_s, u_s, h, method, rtol=rtol, atol=atol)
    return est.error * abs(h), 2 + est.nfe
