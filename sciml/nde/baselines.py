"""Baselines of solver-heuristic regularisation: TayNODE and STEER.

* TayNODE (Kelly, Bettencourt, Johnson & Duvenaud, NeurIPS 2020):
  ``R_K = int_{t0}^{t1} ||d^K z / dt^K||^2 dt`` along the solution, the leading
  truncation-error term of an order-``K - 1`` method. :class:`TaylorField` integrates it
  alongside the state; the ``K``-th total derivative comes from nested forward-mode
  products, ``d_{k+1} = (d/dt + f . grad_z) d_k`` (``torch.func.jvp`` with tangent
  ``(1, f)``), which costs more than Taylor-mode AD (JAX's ``jet``) but needs nothing
  beyond PyTorch.
* STEER (Ghosh, Behl, Dupont, Torr & Namboodiri, NeurIPS 2020): train with the end time
  drawn from ``U(T - b, T + b)`` each iteration (:func:`steer_time`).
"""

from __future__ import annotations

import torch
from torch import nn

from sciml.validation import check_int, check_real

__all__ = ["TaylorField", "steer_time", "total_derivative"]


def total_derivative(func, t: torch.Tensor, z: torch.Tensor, order: int) -> torch.Tensor:
    """``d^order z / dt^order`` along ``dz/dt = func(t, z)`` at ``(t, z)`` (``order >= 1``)."""
    order = check_int("order", order)

    def derivative(k):
        if k == 1:
            return func
        previous = derivative(k - 1)
        return lambda s, y: torch.func.jvp(previous, (s, y), (torch.ones_like(s), func(s, y)))[1]

    return derivative(order)(t, z)


class TaylorField(nn.Module):
    """The augmented field ``(z, r) -> (f(t, z), ||d^K z/dt^K||^2 / dim)`` per sample, for
    states ``z`` ``(batch, dim)`` and ``r`` ``(batch, 1)``: solving it from ``r = 0`` gives
    ``R_K`` per sample in ``r(t1)``."""

    def __init__(self, func: nn.Module, order: int = 2):
        super().__init__()
        self.func, self.order = func, check_int("order", order)

    def forward(self, t, state):
        z, _ = state
        t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
        dk = total_derivative(self.func, t, z, self.order)
        return self.func(t, z), dk.square().mean(-1, keepdim=True)


def steer_time(t_end: float, b: float, generator: torch.Generator | None = None) -> float:
    """An end time from ``U(t_end - b, t_end + b)`` (``0 <= b < t_end``)."""
    b, t_end = check_real("b", b, nonnegative=True), check_real("t_end", t_end)
    if not b < t_end:
        raise ValueError(f"need 0 <= b < t_end, got b={b}, t_end={t_end}")
    u = float(torch.rand((), generator=generator, dtype=torch.float64))
    return t_end - b + 2 * b * u
