"""The Eulerian PINN baseline for 1-D periodic time-dependent problems: ``u(x, t)`` from
one network on ``(cos 2 pi x / L, sin 2 pi x / L, t)`` (exactly periodic, no boundary
loss), trained on the PDE residual at collocation points and the initial condition."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from sciml.validation import ArgumentTypeError, check_callable, check_real

from .autodiff import gradient
from .networks import PeriodicEmbedding, PINNNet, initial_condition_transform

__all__ = ["EulerianPINN"]


class EulerianPINN(nn.Module):
    """Args:
        residual: ``residual(u, u_t, u_x, u_xx)`` at collocation points (for
            ``problems.Convection``: ``lambda u, ut, ux, uxx: problem.residual(ut, ux, uxx)``).
        length: the spatial period.
        width, depth, activation: the network (Krishnapriyan et al.: 4 x 50 tanh).
        hard_initial: ``u = u0(x) + t N(x, t)`` with ``u0`` given here, instead of a loss term.
        u0: the initial condition (needed for ``hard_initial``).
    """

    def __init__(self, residual: Callable, length: float = 2 * math.pi, width: int = 50, depth: int = 4,
                 activation: str = "tanh", hard_initial: bool = False, u0: Callable | None = None):
        super().__init__()
        check_callable("residual", residual, "residual(u, u_t, u_x, u_xx) -> tensor")
        length = check_real("length", length, positive=True, hint="length is the spatial period")
        if not isinstance(hard_initial, bool):
            raise ArgumentTypeError(f"hard_initial must be True or False, got {hard_initial!r}")
        if u0 is not None:
            check_callable("u0", u0, "u0(x) -> u")
        if hard_initial and u0 is None:
            raise ValueError("hard_initial needs u0")
        self.residual_fn, self.length, self.u0 = residual, length, u0
        transform = initial_condition_transform(u0, t_column=1) if hard_initial else None
        self.net = PINNNet(2, 1, width, depth, activation, embedding=PeriodicEmbedding(2, {0: self.length}),
                           output_transform=transform)
        self.hard_initial = hard_initial

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        """``(x, t)`` ``(N, 2)`` -> ``u`` ``(N, 1)``."""
        return self.net(coords)

    def residual(self, coords: torch.Tensor) -> torch.Tensor:
        coords = coords.detach().requires_grad_(True)
        u = self(coords)
        g = gradient(u, coords)
        u_x, u_t = g[:, :1], g[:, 1:]
        u_xx = gradient(u_x, coords)[:, :1]
        return self.residual_fn(u, u_t, u_x, u_xx)

    def terms(self, u0: Callable | None = None, pde_weight: float = 1.0, initial_weight: float = 1.0) -> dict:
        """Terms for :func:`sciml.pinn.fit`: ``points`` hold ``"interior"`` ``(N, 2)`` and,
        unless the initial condition is hard, ``"initial"`` positions ``(M, 1)``."""
        terms = {"pde": (pde_weight, lambda model, points: model.residual(points["interior"]))}
        u0 = u0 or self.u0
        if not self.hard_initial:
            if u0 is None:
                raise ValueError("give u0 for the initial-condition term")

            def initial(model, points):
                x = points["initial"].reshape(-1, 1)
                return model(torch.cat([x, torch.zeros_like(x)], dim=1)) - u0(x)

            terms["initial"] = (initial_weight, initial)
        return terms

    @torch.no_grad()
    def predict(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``u`` on the grid ``(n_t, n_x)``."""
        X, T = torch.meshgrid(x, t, indexing="xy")  # (n_t, n_x)
        coords = torch.stack([X.reshape(-1), T.reshape(-1)], dim=1).to(next(self.parameters()))
        return self(coords).reshape(len(t), len(x))
