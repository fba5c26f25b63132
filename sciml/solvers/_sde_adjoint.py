"""Exact gradients of reversible Heun solves in O(1) memory (Kidger, Foster, Li &
Lyons, ICML 2021, "Efficient and accurate gradients for neural SDEs", Sec. 3).

The forward pass keeps only the outputs and the final solver state. The backward
pass walks the steps in reverse: it reconstructs the state at the start of each
step from the state at its end by the method's algebraic inverse, re-runs that one
step with autograd and accumulates the vector-Jacobian products. The Brownian
increments are regenerated from the path (a pure function of its seed), so the
gradient is that of the discrete solution, to round-off.
"""

from __future__ import annotations

import torch

from ._brownian import brownian_increments
from ._sde_methods import ReversibleHeun
from ._sde_solution import SDESolution, SDEStats

__all__ = ["reversible_heun_adjoint"]


def reversible_heun_adjoint(sde, y0, grid, where, ts_out, bm) -> SDESolution:
    """Solve with reversible Heun on the fixed ``grid`` (outputs at the grid indices
    ``where``) and return the :class:`SDESolution` whose ``ys`` backpropagate by the
    reversible adjoint. ``sde`` is a :class:`CountedSDE`; ``bm`` is replayed on the
    backward pass."""
    params = tuple(p for p in sde.sde.parameters() if p.requires_grad) if isinstance(sde.sde, torch.nn.Module) else ()
    stats = SDEStats(n_steps=len(grid) - 1, step_ts=grid[1:])
    dtype, device = y0.dtype, y0.device

    def time(s):
        return torch.scalar_tensor(s, dtype=dtype, device=device)

    def forward(y):
        dws, _ = brownian_increments(bm, grid, False, y)
        state = ReversibleHeun.init_state(sde, time(grid[0]), y)
        ys, out = [y], 1
        for n in range(len(grid) - 1):
            y, state = ReversibleHeun.step(sde, time(grid[n]), time(grid[n + 1] - grid[n]), y, dws[n], None, state)
            if n + 1 == where[out]:
                ys.append(y)
                out += 1
        stats.nfe = sde.nfe
        return torch.stack(ys), (y, *state)

    def backward(final, grad_ys):
        y, z, fz, gz = final
        dws, _ = brownian_increments(bm, grid, False, y)
        adj_y, adj_z = grad_ys[-1], torch.zeros_like(y)
        adj_p = [torch.zeros_like(p) for p in params]
        out = len(where) - 2
        nfe0 = sde.nfe
        for n in range(len(grid) - 2, -1, -1):
            t0, dt, dw = time(grid[n]), time(grid[n + 1] - grid[n]), dws[n]
            z0 = ReversibleHeun.inverse_z(sde, dt, y, dw, (z, fz, gz)).detach()
            with torch.enable_grad():
                z0_ = z0.requires_grad_(True)
                f0, g0 = sde.f(t0, z0_), sde.g(t0, z0_)
                y0 = ReversibleHeun.inverse_y(sde, dt, y, dw, f0.detach(), g0.detach(), (z, fz, gz)).detach()
                y0_ = y0.clone().requires_grad_(True)
                y1, (z1, _, _) = ReversibleHeun.step(sde, t0, dt, y0_, dw, None, (z0_, f0, g0))
                grads = torch.autograd.grad((y1, z1), (y0_, z0_) + params, (adj_y, adj_z), allow_unused=True)
            adj_y, adj_z = grads[0], grads[1]
            adj_p = [a if g is None else a + g for a, g in zip(adj_p, grads[2:])]
            y, z, fz, gz = y0, z0.detach(), f0.detach(), g0.detach()
            if out >= 0 and n == where[out]:
                adj_y = adj_y + grad_ys[out]
                out -= 1
        stats.nfe_backward = sde.nfe - nfe0
        return adj_y + adj_z, adj_p

    ys = _ReversibleFunction.apply(forward, backward, y0, *params)
    return SDESolution(ts_out, ys, None, stats)


class _ReversibleFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, forward, backward, y0, *params):
        ys, final = forward(y0)
        ctx.backward_fn = backward
        ctx.save_for_backward(*final)
        return ys

    @staticmethod
    def backward(ctx, grad_ys):
        grad_y0, grad_params = ctx.backward_fn(ctx.saved_tensors, grad_ys)
        return (None, None, grad_y0, *grad_params)
