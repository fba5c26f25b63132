"""Neural ODEs on the solver core, and the global solver-heuristic regularisers of Pal,
Ma, Shah & Rackauckas (ICML 2021).

:class:`NeuralODE` solves ``dz/dt = f_theta(t, z)`` with :func:`sciml.solvers.solve_ode`
and keeps the last solve's statistics (``nfe`` of the forward pass, ``nfe_backward`` of
an adjoint backward pass, accepted/rejected steps).

Global regularisers, from the same forward solve at no extra evaluations:

* ERNODE: ``R_E = sum_j |h_j| E_j`` over accepted steps, ``E_j`` the scaled embedded
  error estimate (``stats.error_sum``);
* SRNODE: ``R_S = sum_j |h_j| S_j / s``, ``S_j`` the stiffness (``|lambda|``) estimate and
  ``s`` the method's stability size along the negative real axis (the tableau's
  ``stability_size``; Tsit5: 3.5068), so
  ``S h / s > 1`` flags a step at its stability limit.

``reduction="mean"`` divides by the number of accepted steps (what the reference code
computes; its lambda is then the paper's times the step count). Step sizes and
accept/reject decisions are solver control, constants for the gradient: the
regularisers need gradients through the solver, so asking for them together with a
continuous (backsolve) adjoint is an error.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sciml.solvers import solve_ode
from sciml.solvers._ode import TABLEAUX

__all__ = ["LambdaSchedule", "NeuralODE", "regularizer"]


class NeuralODE(nn.Module):
    """``z(t)`` from ``z(t_0) = z0`` under ``dz/dt = func(t, z)``.

    Args:
        func: the vector field, an ``nn.Module`` called as ``func(t, z)``.
        method, rtol, atol: of :func:`~sciml.solvers.solve_ode` (Tsit5 by default).
        adjoint: ``False`` (backpropagate through the solver) or ``True`` /
            a ``BacksolveAdjoint`` (O(1) memory; no regularisers).
        regularize: ``None``, ``"error"`` (ERNODE) or ``"stiffness"`` (SRNODE): the
            solve then also records the quantity :func:`regularizer` needs.
    """

    def __init__(self, func: nn.Module, method: str = "tsit5", rtol: float = 1e-6, atol: float = 1e-6,
                 adjoint=False, regularize: str | None = None, **solver_kwargs):
        super().__init__()
        if regularize not in (None, "error", "stiffness"):
            raise ValueError(f"regularize must be None, 'error' or 'stiffness', got {regularize!r}")
        if regularize is not None and adjoint is not False:
            raise ValueError("the ERNODE/SRNODE regularisers differentiate the solver's own error and stiffness "
                             "estimates, which a continuous (backsolve) adjoint does not define: use adjoint=False, "
                             "or local regularisation, which works with every gradient mode")
        self.func, self.method, self.rtol, self.atol = func, method, rtol, atol
        self.adjoint, self.regularize, self.solver_kwargs = adjoint, regularize, solver_kwargs
        self.stats = None

    def forward(self, z0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """States at the times ``t`` ``(T,)``: ``(T, *z0.shape)``; the statistics go to ``self.stats``."""
        t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
        sol = solve_ode(self.func, z0, t, method=self.method, rtol=self.rtol, atol=self.atol, adjoint=self.adjoint,
                        stiffness=self.regularize == "stiffness", **self.solver_kwargs)
        self.stats = sol.stats
        return sol.ys

    @property
    def nfe(self) -> int:
        """Function evaluations of the last forward solve."""
        return 0 if self.stats is None else int(self.stats.nfe)

    @property
    def nfe_backward(self) -> int:
        """Evaluations of the adjoint backward pass of the last solve (0 without adjoint
        or before ``backward``)."""
        return 0 if self.stats is None else int(getattr(self.stats, "nfe_backward", 0) or 0)

    def regularization(self, reduction: str = "sum") -> torch.Tensor:
        """:func:`regularizer` of the last solve (``regularize`` must have been set)."""
        if self.regularize is None or self.stats is None:
            raise RuntimeError("build NeuralODE(..., regularize='error' or 'stiffness') and run it first")
        return regularizer(self.stats, self.regularize, reduction, self.method)


def regularizer(stats, kind: str = "error", reduction: str = "sum", method: str = "tsit5") -> torch.Tensor:
    """``R_E`` (``kind="error"``) or ``R_S`` (``"stiffness"``, divided by the method's
    stability size) from a solve's ``stats``; ``reduction`` ``"sum"`` or ``"mean"`` over the
    accepted steps."""
    if kind not in ("error", "stiffness"):
        raise ValueError(f"kind must be 'error' or 'stiffness', got {kind!r}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    if kind == "error":
        if stats.error_sum is None:
            raise ValueError("the solve has no error estimate: use an adaptive method (bosh3, dopri5, tsit5)")
        value = stats.error_sum
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
