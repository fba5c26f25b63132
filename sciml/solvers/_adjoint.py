"""Continuous (optimise-then-discretise) adjoint: O(1) memory in the number of steps.

For ``dy/dt = f(t, y; p)`` and a loss ``L(y(t_0), ..., y(t_M))``, the adjoint
``a(t) = dL/dy(t)`` and the parameter gradient ``g(t)`` solve, backwards from
``t_M`` with ``a(t_M) = dL/dy(t_M)`` and ``g(t_M) = 0``,

    dy/dt = f,    da/dt = -a^T df/dy,    dg/dt = -a^T df/dp,

with ``a`` jumping by ``dL/dy(t_i)`` at each output time (Chen et al., NeurIPS 2018,
"Neural ordinary differential equations", Alg. 1 and App. B). ``y`` is re-solved
backwards from the forward value at each output time. With ``seminorm=True`` the
step-size control ignores ``g`` (Kidger, Chen & Lyons, ICML 2021, "Hey, that's not
an ODE").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch

__all__ = ["BacksolveAdjoint"]


@dataclass(frozen=True, eq=False)
class BacksolveAdjoint:
    """Gradients by solving the adjoint system backwards in time.

    Args:
        rtol, atol: tolerances of the backward solve (default: the forward ones).
        method: method of the backward solve (default: the forward one).
        seminorm: leave the parameter-gradient components out of the error norm.
        params: the tensors to differentiate with respect to; default: the
            parameters of ``func`` that require gradients (``func`` must then be a
            ``torch.nn.Module``).
    """

    rtol: float | None = None
    atol: float | None = None
    method: str | None = None
    seminorm: bool = True
    params: Sequence[torch.Tensor] | None = None

    def resolve_params(self, func) -> tuple[torch.Tensor, ...]:
        if self.params is not None:
            params = tuple(self.params)
            for i, p in enumerate(params):
                if not isinstance(p, torch.Tensor):
                    raise TypeError(f"BacksolveAdjoint.params[{i}] must be a tensor, got {type(p).__name__}")
        elif isinstance(func, torch.nn.Module):
            params = tuple(func.parameters())
        else:
            raise ValueError("the adjoint needs the tensors to differentiate: func is not a torch.nn.Module, so pass "
                             "them explicitly, e.g. adjoint=BacksolveAdjoint(params=[weight, bias])")
        return tuple(p for p in params if p.requires_grad)


def augmented_dynamics(f: Callable, params: tuple[torch.Tensor, ...], n: int) -> Callable:
    """The backward system on ``z = [y, a, g]`` (one row, shape ``(1, 2n + P)``), in
    forward-time form."""

    def dynamics(t, z):
        y, a = z[:, :n], z[:, n: 2 * n]
        with torch.enable_grad():
            y = y.detach().requires_grad_(True)
            fy = f(t, y)
            grads = torch.autograd.grad(fy, (y,) + params, a, allow_unused=True)
        parts = [fy.detach()] + [
            -(g if g is not None else torch.zeros_like(x)).reshape(1, -1) for g, x in zip(grads, (y,) + params)
        ]
        return torch.cat(parts, dim=1)

    return dynamics


class BacksolveFunction(torch.autograd.Function):
    """``ys = solve(y0)`` whose backward runs the adjoint system.

    ``forward_solve(y0) -> (ys, stats)`` runs without gradients;
    ``backward_solve(ys, grad_ys) -> (grad_y0, grad_params)`` runs the adjoint.
    """

    @staticmethod
    def forward(ctx, forward_solve, backward_solve, stats_box, y0, *params):
        ys, stats = forward_solve(y0)
        stats_box.append(stats)
        ctx.backward_solve = backward_solve
        ctx.stats = stats
        ctx.save_for_backward(ys)
        return ys

    @staticmethod
    def backward(ctx, grad_ys):
        (ys,) = ctx.saved_tensors
        grad_y0, grad_params, nfe = ctx.backward_solve(ys, grad_ys)
        ctx.stats.nfe_backward += nfe
        return (None, None, None, grad_y0, *grad_params)
