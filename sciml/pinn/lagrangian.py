"""Lagrangian PINNs (Mojgani, Balajewicz & Hassanzadeh, CMAME 2023, arXiv 2205.02902)
for 1-D periodic convection–diffusion and viscous Burgers.

Each characteristic is labelled by its start ``xi``; the PDE ``u_t + F(u) u_x = nu u_xx``
becomes, along ``X(xi, t)``,

    dX/dt = F(u),        du/dt = nu u_xx,        X(xi, 0) = xi,   u(xi, 0) = u0(xi),

with ``F = c`` (convection) or ``F = u`` (Burgers); ``d/dt`` at fixed ``xi`` is the
material derivative. For pure convection the exact pair ``u = u0(xi)``, ``X = xi + c t``
is rank 1 and 2 in ``(xi, t)``, whatever ``c``: that is why the Lagrangian frame does
not suffer the convection failure mode of Eulerian PINNs.

Two independent networks (``u`` and ``X``) take ``(cos 2 pi xi / L, sin 2 pi xi / L, t)``,
so both are exactly periodic in the label and no boundary loss is needed.

* ``displacement=True`` (default; a documented deviation from the reference code):
  ``X = xi + N_x``. A periodic network cannot output ``X(xi, 0) = xi``, which jumps at
  ``xi = 0 = L``; the reference code predicts ``X`` directly and cuts points near the
  seam from its error. The initial condition becomes ``N_x(xi, 0) = 0``.
* ``diffusion="label"`` (the reference code's): ``u_xx`` is taken as ``d^2 u / d xi^2``,
  exact when ``X_xi = 1`` (constant-speed convection); ``"chain_rule"``:
  ``u_xx = (1 / X_xi) d/d xi (u_xi / X_xi)``, the derivative along the deformed
  characteristics that Burgers needs.
* Loss presets (:meth:`LagrangianPINN.terms`): ``"reference"`` is the code's unsquared
  Euclidean norms with weights 10 (characteristics), 1 (state), 1000 (both initial
  conditions); ``"mse"`` is mean squares with weights 1, 1, 100.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import nn

from sciml.validation import check_choice, check_real

from .autodiff import gradient
from .networks import MLP, PeriodicEmbedding

__all__ = ["LagrangianPINN", "PRESETS"]

PRESETS = {"reference": {"norm": "l2", "x": 10.0, "u": 1.0, "initial": 1000.0},
           "mse": {"norm": "mse", "x": 1.0, "u": 1.0, "initial": 100.0}}


class LagrangianPINN(nn.Module):
    """Args:
        speed: ``F`` of the characteristic ODE: a number ``c`` (convection),
            ``"burgers"`` (``F = u``) or a callable ``F(u)``.
        nu: diffusion coefficient.
        length: period ``L`` of the label.
        width_u, depth_u, width_x, depth_x: the two branches (the reference code's
            widths are 50 and depths 5 and 2).
        activation: of both branches.
        displacement: ``X = xi + N_x`` (see the module docstring).
        diffusion: ``"label"`` or ``"chain_rule"``.
    """

    def __init__(self, speed: float | str | Callable = 1.0, nu: float = 0.0, length: float = 2 * math.pi,
                 width_u: int = 50, depth_u: int = 5, width_x: int = 50, depth_x: int = 2,
                 activation: str = "tanh", displacement: bool = True, diffusion: str = "label"):
        super().__init__()
        check_choice("diffusion", diffusion, ("label", "chain_rule"))
        nu, length = check_real("nu", nu, nonnegative=True), check_real("length", length, positive=True)
        if isinstance(speed, str) and speed != "burgers":
            raise ValueError(f"speed must be a number, 'burgers' or a callable, got {speed!r}")
        self.speed, self.nu, self.length = speed, nu, length
        self.displacement, self.diffusion = displacement, diffusion
        self.embedding = PeriodicEmbedding(2, {0: self.length})
        self.u_net = MLP(3, 1, width_u, depth_u, activation)
        self.x_net = MLP(3, 1, width_x, depth_x, activation)

    def forward(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``coords = (xi, t)`` ``(N, 2)`` -> ``(u, X)``, each ``(N, 1)``."""
        if coords.dim() != 2 or coords.shape[1] != 2:
            raise ValueError(f"expected (N, 2) label-time coordinates, got {tuple(coords.shape)}")
        e = self.embedding(coords)
        u, x = self.u_net(e), self.x_net(e)
        return u, (coords[:, :1] + x if self.displacement else x)

    def characteristic_speed(self, u: torch.Tensor) -> torch.Tensor:
        if self.speed == "burgers":
            return u
        if callable(self.speed):
            return self.speed(u)
        return torch.full_like(u, float(self.speed))

    def second_derivative(self, u: torch.Tensor, x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """``u_xx`` by the chosen ``diffusion`` form (``coords`` must require grad)."""
        u_xi = gradient(u, coords)[:, :1]
        if self.diffusion == "label":
            return gradient(u_xi, coords)[:, :1]
        x_xi = gradient(x, coords)[:, :1]
        return gradient(u_xi / x_xi, coords)[:, :1] / x_xi

    def residuals(self, coords: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"x": X_t - F(u), "u": u_t - nu u_xx}`` at collocation points ``(N, 2)``."""
        coords = coords.detach().requires_grad_(True)
        u, x = self(coords)
        r_x = gradient(x, coords)[:, 1:] - self.characteristic_speed(u)
        r_u = gradient(u, coords)[:, 1:]
        if self.nu:
            r_u = r_u - self.nu * self.second_derivative(u, x, coords)
        return {"x": r_x, "u": r_u}

    def initial_residuals(self, xi: torch.Tensor, u0: torch.Tensor) -> dict[str, torch.Tensor]:
        """``X(xi, 0) - xi`` and ``u(xi, 0) - u0`` at labels ``xi`` ``(N,)`` or ``(N, 1)``."""
        xi = xi.reshape(-1, 1)
        u, x = self(torch.cat([xi, torch.zeros_like(xi)], dim=1))
        return {"x0": x - xi, "u0": u - u0.reshape(-1, 1)}

    def terms(self, u0: Callable[[torch.Tensor], torch.Tensor], preset: str = "mse", **weights) -> tuple[dict, str]:
        """Loss terms for :func:`sciml.pinn.fit` and their norm: ``(terms, norm)``.

        ``points`` must hold ``"interior"`` ``(N, 2)`` label-time points and
        ``"initial"`` labels ``(M, 1)``; ``u0(xi)`` gives the initial state. ``weights``
        (``x``, ``u``, ``initial``) override the preset's."""
        w = {**PRESETS[check_choice("preset", preset, PRESETS)], **weights}

        def interior(name):
            return lambda model, points: model.residuals(points["interior"])[name]

        def initial(name):
            return lambda model, points: model.initial_residuals(points["initial"], u0(points["initial"]))[name]

        terms = {"characteristic": (w["x"], interior("x")), "state": (w["u"], interior("u")),
                 "initial_x": (w["initial"], initial("x0")), "initial_u": (w["initial"], initial("u0"))}
        return terms, w["norm"]

    @torch.no_grad()
    def eulerian(self, xi: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The solution on the Eulerian grid ``x`` ``(n_x,)`` at times ``t`` ``(n_t,)``,
        ``(n_t, n_x)``: at each time the characteristics of the labels ``xi`` are wrapped
        to ``[0, L)`` (``X mod L``), sorted, and ``u`` is interpolated linearly and
        periodically (``numpy.interp`` with ``period=L``)."""
        n_xi = len(xi)
        grid_xi = xi.reshape(-1, 1).repeat(len(t), 1)
        grid_t = t.reshape(-1, 1).repeat_interleave(n_xi, 0)
        u, X = self(torch.cat([grid_xi, grid_t], dim=1).to(next(self.parameters())))
        u = u.reshape(len(t), n_xi).double().cpu().numpy()
        pos = np.mod(X.reshape(len(t), n_xi).double().cpu().numpy(), self.length)
        xs = x.double().cpu().numpy()
        out = np.stack([np.interp(xs, pos[j], u[j], period=self.length) for j in range(len(t))])
        return torch.from_numpy(out)
