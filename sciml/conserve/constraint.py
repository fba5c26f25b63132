"""Linear conservation constraints ``G u = b`` from the integral form of a conservation
law: ``int_Omega u(t, x) dx = b(t)``, with ``b(t)`` the initial mass plus the
time-integrated boundary flux (a problem's ``mass``).

``G`` holds quadrature weights on the points where the prediction lives, per time slice,
and its tensor product on a 2-D grid. The points need not be uniform or shared between
slices. The rule depends on the grid kind, which the constraint is told (``period``, or
:meth:`ConservationConstraint.for_problem` from a problem's ``periodic`` flag):

* a bounded interval whose nodes include both ends: the trapezoid rule on the actual
  (sorted, possibly non-uniform) nodes, :func:`trapezoid_weights`, which integrates
  over ``[x_0, x_{n-1}]``;
* a periodic axis of period ``L`` sampled without its endpoint (``x_i = a + i L / n``):
  the trapezoid rule on the circle, :func:`periodic_weights`, whose last cell closes
  the loop from ``x_{n-1}`` to ``x_0 + L`` (on uniform nodes every weight is ``L / n``,
  exact for trigonometric polynomials of degree ``< n``). The bounded rule on such a
  grid would miss the last cell.
"""

from __future__ import annotations

import numbers
from typing import Callable, Sequence

import torch

from sciml.validation import ArgumentTypeError, check_callable, check_int, check_real

from .update import conservation_update

__all__ = ["ConservationConstraint", "periodic_weights", "trapezoid_weights"]


def _nodes(x, minimum: int) -> torch.Tensor:
    """``x`` as float64 nodes ``(..., n)``: finite, ``n >= minimum``, increasing along the last axis."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.dim() == 0 or x.shape[-1] < minimum:
        raise ValueError(f"need at least {minimum} nodes along the last axis, got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("the nodes contain NaN or Inf; quadrature weights need finite node positions")
    if bool((x.diff(dim=-1) < 0).any()):
        raise ValueError("nodes must be sorted in increasing order (sort the points and their values first)")
    return x


def trapezoid_weights(x: torch.Tensor) -> torch.Tensor:
    """Trapezoid weights ``(..., n)`` for sorted finite nodes ``x`` ``(..., n)``, ``n >= 2``:
    half the neighbouring cell widths at each end, the mean of the two adjacent widths
    inside, so ``sum(w * f(x))`` integrates ``f`` over ``[x_0, x_{n-1}]``."""
    x = _nodes(x, 2)
    h = x.diff(dim=-1)
    w = torch.zeros_like(x)
    w[..., :-1] += 0.5 * h
    w[..., 1:] += 0.5 * h
    return w


def periodic_weights(x: torch.Tensor, period: float) -> torch.Tensor:
    """Trapezoid weights on the circle of length ``period`` for sorted finite nodes ``x``
    ``(..., n)`` spanning less than one period: ``w_i = (x_{i+1} - x_{i-1}) / 2`` with
    ``x_n = x_0 + period`` and ``x_{-1} = x_{n-1} - period``, so ``sum(w * f(x))``
    integrates a ``period``-periodic ``f`` over one period (``sum(w) = period``)."""
    period = check_real("period", period, positive=True)
    x = _nodes(x, 1)
    if bool((x[..., -1] - x[..., 0] >= period).any()):
        raise ValueError(f"periodic nodes must span less than one period ({period}); a grid that includes its "
                         f"endpoint x_0 + period counts that point twice: drop it, or use period=None")
    after = torch.cat([x[..., 1:], x[..., :1] + period], dim=-1)
    before = torch.cat([x[..., -1:] - period, x[..., :-1]], dim=-1)
    return 0.5 * (after - before)


def _periods(period, dims: int) -> tuple[float | None, ...]:
    if period is None or (isinstance(period, numbers.Real) and not isinstance(period, bool)):
        return (period,) * dims
    if not isinstance(period, Sequence) or len(period) != dims:
        raise ArgumentTypeError(f"period must be None, a number or {dims} entries (None or a number per axis), "
                                f"got {period!r}")
    return tuple(period)


class ConservationConstraint:
    """``int u dx = mass(t)`` per time slice.

    Args:
        mass: ``mass(t) -> b`` for times ``(n_t,)`` (e.g. ``lambda t: problem.mass(p, t)[0]``).
        dims: 1 (nodes ``x``) or 2 (a tensor grid ``(x, y)``, fields flattened row-major).
        period: ``None`` (default) for axes whose nodes include both ends (trapezoid
            rule), or the period ``L`` of a periodic axis sampled without its endpoint;
            one value for every axis or one per axis.
    """

    def __init__(self, mass: Callable[[torch.Tensor], torch.Tensor], dims: int = 1,
                 period: float | Sequence[float | None] | None = None):
        self.mass = check_callable("mass", mass, "mass(t) -> b")
        self.dims = check_int("dims", dims, minimum=1, maximum=2, hint="1 (nodes x) or 2 (a grid x, y)")
        self.period = tuple(None if p is None else check_real("period", p, positive=True)
                            for p in _periods(period, self.dims))

    @classmethod
    def for_problem(cls, problem, param) -> "ConservationConstraint":
        """The 1-D constraint of a conservation-law problem (``mass(param, t)``, ``x_range``,
        ``periodic``) for one parameter value, with the rule of the problem's grid."""
        a, b = problem.x_range
        period = (b - a) if getattr(problem, "periodic", False) else None
        param = torch.as_tensor(param, dtype=torch.float64).reshape(1)
        return cls(lambda t: problem.mass(param, t)[0], period=period)

    def _weights(self, x: torch.Tensor, axis: int) -> torch.Tensor:
        period = self.period[axis]
        return trapezoid_weights(x) if period is None else periodic_weights(x, period)

    def matrix(self, *nodes: torch.Tensor) -> torch.Tensor:
        """``G`` with one row per time slice: ``(n_t, 1, n)`` for per-slice nodes
        ``(n_t, n)``, or ``(1, n)`` for shared nodes ``(n,)`` (in 2-D: ``x``, ``y``
        vectors, ``n = n_x n_y``)."""
        if len(nodes) != self.dims:
            raise ValueError(f"a {self.dims}-D constraint needs {self.dims} node arrays, got {len(nodes)}")
        if self.dims == 1:
            return self._weights(nodes[0], 0).unsqueeze(-2)
        wx, wy = self._weights(nodes[0], 0), self._weights(nodes[1], 1)
        return (wx.unsqueeze(-1) * wy.unsqueeze(-2)).flatten(-2).unsqueeze(-2)

    def rhs(self, t: torch.Tensor) -> torch.Tensor:
        """``b`` ``(n_t, 1)``."""
        return torch.as_tensor(self.mass(torch.as_tensor(t, dtype=torch.float64)), dtype=torch.float64).reshape(-1, 1)

    def error(self, u: torch.Tensor, t: torch.Tensor, *nodes: torch.Tensor) -> torch.Tensor:
        """Signed conservation error ``G u - b`` per slice, ``(..., n_t)``, for fields
        ``(..., n_t, n)``."""
        G, b = self.matrix(*nodes), self.rhs(t)
        return ((G @ u.to(torch.float64).unsqueeze(-1)).squeeze(-1) - b).squeeze(-1)

    def apply(self, mean: torch.Tensor, cov: torch.Tensor, t: torch.Tensor, *nodes: torch.Tensor,
              noise_var: float = 0.0, mode: str = "probconserv", full_covariance: bool | None = None):
        """:func:`~sciml.conserve.conservation_update` on every time slice of predictions
        ``(..., n_t, n)`` (variances of the same shape, or covariances ``(..., n_t, n, n)``)."""
        return conservation_update(mean, cov, self.matrix(*nodes), self.rhs(t), noise_var=noise_var, mode=mode,
                                   full_covariance=full_covariance)
