"""Derivatives of a network's output with respect to its input coordinates.

Two routes, same numbers:

* reverse-mode autograd on a batch (:func:`partial`, :func:`gradient`,
  :func:`laplacian`): ``u`` is computed once from ``coords`` with
  ``requires_grad``, and each derivative is one ``torch.autograd.grad`` with
  ``create_graph=True`` (so the residual can be trained on); repeated derivatives
  reuse the graph of the previous one;
* ``torch.func`` (:func:`derivatives`): the per-point Jacobian and Hessian of a
  function ``R^d -> R^m`` by ``vmap(jacrev)`` / ``vmap(hessian)``, batched over points;
  convenient for mixed derivatives and for models written as pure functions.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.func import hessian, jacrev, vmap

__all__ = ["derivatives", "gradient", "laplacian", "partial"]


def gradient(u: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """``du/dcoords`` of a scalar field ``u`` ``(N, 1)`` or ``(N,)``: ``(N, d)``."""
    if not coords.requires_grad:
        raise ValueError("coords must require grad (coords.requires_grad_()) before u is computed from them")
    (g,) = torch.autograd.grad(u, coords, torch.ones_like(u), create_graph=True, allow_unused=True)
    return torch.zeros_like(coords) if g is None else g


def partial(u: torch.Tensor, coords: torch.Tensor, axes: Sequence[int] | int) -> torch.Tensor:
    """``d^k u / d coords[axes[0]] ... d coords[axes[-1]]`` as ``(N, 1)``: ``axes=(0, 0)`` is
    ``u_xx`` when column 0 is ``x``, ``(0, 1)`` the mixed ``u_xt``."""
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    out = u if u.dim() == 2 else u[:, None]
    for a in axes:
        out = gradient(out, coords)[:, a:a + 1]
    return out


def laplacian(u: torch.Tensor, coords: torch.Tensor, axes: Sequence[int] | None = None) -> torch.Tensor:
    """``sum_i d^2 u / d coords_i^2`` over ``axes`` (default all columns), ``(N, 1)``."""
    g = gradient(u, coords)
    axes = range(coords.shape[1]) if axes is None else axes
    return sum(gradient(g[:, a:a + 1], coords)[:, a:a + 1] for a in axes)


def derivatives(fn: Callable[[torch.Tensor], torch.Tensor], coords: torch.Tensor,
                order: int = 2) -> tuple[torch.Tensor, ...]:
    """``(u, J)`` or ``(u, J, H)`` of ``fn`` at each point by ``torch.func``.

    ``fn`` maps a batch ``(N, d)`` to ``(N, m)`` and must treat points independently
    (an MLP does); it is evaluated on single points ``(1, d)`` under ``vmap``. Shapes:
    ``u (N, m)``, ``J (N, m, d)``, ``H (N, m, d, d)``; gradients flow to ``fn``'s
    parameters.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")

    def single(p):
        return fn(p[None])[0]

    u = fn(coords)
    jac = vmap(jacrev(single))(coords)
    if order == 1:
        return u, jac
    return u, jac, vmap(hessian(single))(coords)
