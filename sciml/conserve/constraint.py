"""Linear conservation constraints ``G u = b`` from the integral form of a conservation
law: ``int_Omega u(t, x) dx = b(t)``, with ``b(t)`` the initial mass plus the
time-integrated boundary flux (a problem's ``mass``).

``G`` holds quadrature weights on the points where the prediction lives, per time slice:
the trapezoid rule on the actual (sorted, possibly non-uniform) points in 1-D, and its
tensor product on a 2-D grid. The points need not be uniform or shared between slices.
"""

from __future__ import annotations

from typing import Callable

import torch

from .update import conservation_update

__all__ = ["ConservationConstraint", "trapezoid_weights"]


def trapezoid_weights(x: torch.Tensor) -> torch.Tensor:
    """Trapezoid weights ``(..., n)`` for sorted nodes ``x`` ``(..., n)``: half the
    neighbouring cell widths at each end, the mean of the two adjacent widths inside, so
    ``sum(w * f(x))`` integrates ``f`` over ``[x_0, x_{n-1}]``."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.shape[-1] < 2:
        raise ValueError("need at least two nodes")
    h = x.diff(dim=-1)
    if bool((h < 0).any()):
        raise ValueError("nodes must be sorted in increasing order (sort the points and their values first)")
    w = torch.zeros_like(x)
    w[..., :-1] += 0.5 * h
    w[..., 1:] += 0.5 * h
    return w


class ConservationConstraint:
    """``int u dx = mass(t)`` per time slice.

    Args:
        mass: ``mass(t) -> b`` for times ``(n_t,)`` (e.g. ``lambda t: problem.mass(p, t)[0]``).
        dims: 1 (nodes ``x``) or 2 (a tensor grid ``(x, y)``, fields flattened row-major).
    """

    def __init__(self, mass: Callable[[torch.Tensor], torch.Tensor], dims: int = 1):
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2, got {dims}")
        self.mass, self.dims = mass, dims

    def matrix(self, *nodes: torch.Tensor) -> torch.Tensor:
        """``G`` with one row per time slice: ``(n_t, 1, n)`` for per-slice nodes
        ``(n_t, n)``, or ``(1, n)`` for shared nodes ``(n,)`` (in 2-D: ``x``, ``y``
        vectors, ``n = n_x n_y``)."""
        if len(nodes) != self.dims:
            raise ValueError(f"a {self.dims}-D constraint needs {self.dims} node arrays, got {len(nodes)}")
        if self.dims == 1:
            return trapezoid_weights(nodes[0]).unsqueeze(-2)
        wx, wy = trapezoid_weights(nodes[0]), trapezoid_weights(nodes[1])
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
