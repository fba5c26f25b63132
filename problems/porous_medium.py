"""The generalised porous medium equation (GPME) ``u_t = (k(u) u_x)_x`` in one dimension:
the three members of ProbConserv's benchmark (Hansen et al., ICML 2023, Sec. 4 and
App. E) with their closed-form solutions and their integral mass ``b(t) = int u dx``.

=========  =====================  ==================  ===========================  =====================
case       k(u)                   domain              exact solution               b(t)
=========  =====================  ==================  ===========================  =====================
heat       k (constant)           [0, 2 pi) periodic  exp(-k t) sin x              0
PME        u^m                    [0, 1], t in [0,1]  (m (t - x)_+)^(1/m)          m^(1+1/m) t^(1+1/m)/(m+1)
Stefan     1 if u >= u*, else 0   [0, 1], t in [0,.1] 1 - c1 erf(x / 2 sqrt t)     2 c1 sqrt(t / pi)
                                                      for x <= alpha sqrt t, else 0
=========  =====================  ==================  ===========================  =====================

* PME: the travelling wave with unit speed (``-U' = (U^m U')'`` integrated once gives
  ``U^(m-1) U' = -1``), so the front sits at ``x = t``; boundary data ``u(0, t) = (m t)^(1/m)``
  on the left and 0 on the right. ``b(t) = int_0^t (m (t - x))^(1/m) dx``.
* Stefan: the Neumann similarity solution with ``u(0, t) = 1``, ``u(x, 0) = 0``. ``z1``
  solves ``u* erf(z1) z1 exp(z1^2) = (1 - u*) / sqrt(pi)``, ``alpha = 2 z1``,
  ``c1 = (1 - u*) / erf(z1)``. ``u`` jumps from ``u*`` to 0 at the front ``x = alpha sqrt t``,
  whose speed times ``u*`` equals the flux ``-u_x`` there (the defining equation).
  ``b(t)`` follows by integrating ``erf`` and using that equation.

Parameters per sample and ProbConserv's train -> test values: heat ``k ~ U[1, 5]`` ->
{1, 5}; PME ``m ~ U[1, 6]`` -> {1, 3, 6}; Stefan ``u* ~ U[0.55, 0.7]`` -> {0.6, 0.5}.
``sample_inputs`` draws the parameter, ``(n, 1)``; ``solve`` evaluates the closed form on
the ``(n_times, resolution)`` grid (ProbConserv evaluates on 201 x 201).

Each class also offers :meth:`solve_fv`, a finite-volume solution from
:class:`sciml.pde.FiniteVolume1D` (arithmetic face diffusivity, which lets degenerate
fronts advance), for checks and for data without closed form, and the equation for
physics-informed models: ``domain``, ``initial_condition``, ``boundary_condition``,
``diffusivity`` and :meth:`residual` (``u_t - (k(u) u_x)_x`` by autograd). References:
Vázquez, *The Porous Medium Equation* (OUP 2007), ch. 4; Crank, *Free and Moving
Boundary Problems* (OUP 1984), sec. 1.3.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.special import erf

from sciml.pde import FiniteVolume1D

from ._parametric import ParametricLaw1D, _param, _per_sample

__all__ = ["Heat", "PorousMedium", "Stefan"]


class Heat(ParametricLaw1D):
    """``u_t = k u_xx`` on ``[0, 2 pi)`` periodic from ``u0 = sin x``; parameter ``k > 0``."""

    name = "heat"
    x_range, t_end, param_name, param_range, periodic = (0.0, 2 * math.pi), 1.0, "k", (1.0, 5.0), True
    param_meaning = "the diffusivity"

    def exact(self, param, t, x):
        return torch.exp(-_param(param) * t) * torch.sin(x)

    def mass(self, param, t):
        """``b(t) = int u dx``, ``(n, *t.shape)``."""
        k, t = _per_sample(param, t)
        return torch.zeros_like(k * t)

    def diffusivity(self, param, u):
        return torch.as_tensor(param, dtype=u.dtype, device=u.device) * torch.ones_like(u)

    def boundary_condition(self, param, t):
        return None  # periodic

    def _scheme(self, p, cells):
        return FiniteVolume1D(cells, length=2 * math.pi, diffusivity=lambda u: p.expand_as(u), bc="periodic")


class PorousMedium(ParametricLaw1D):
    """``u_t = (u^m u_x)_x`` on ``[0, 1]``, the unit-speed travelling wave; parameter ``m > 0``."""

    name = "porous_medium"
    x_range, t_end, param_name, param_range = (0.0, 1.0), 1.0, "m", (1.0, 6.0)
    param_meaning = "the exponent of k = u^m"

    def exact(self, param, t, x):
        m = _param(param)
        return (m * torch.clamp(t - x, min=0.0)) ** (1 / m)

    def mass(self, param, t):
        """``b(t) = int u dx``, ``(n, *t.shape)``."""
        m, t = _per_sample(param, t)
        return m ** (1 + 1 / m) * t ** (1 + 1 / m) / (m + 1)

    def diffusivity(self, param, u):
        return u.clamp(min=0) ** torch.as_tensor(param, dtype=u.dtype, device=u.device)

    def boundary_condition(self, param, t):
        """Dirichlet values ``(u(0, t), u(1, t))``."""
        m = _param(param)
        t = torch.as_tensor(t, dtype=torch.float64)
        return (m * t) ** (1 / m), torch.zeros_like(m * t)

    def _scheme(self, p, cells):
        return FiniteVolume1D(cells, diffusivity=lambda u: u.clamp(min=0) ** p, bc=("dirichlet", "outflow"),
                              left=lambda t: (p * t) ** (1 / p))


class Stefan(ParametricLaw1D):
    """``u_t = (k(u) u_x)_x``, ``k = 1{u >= u*}``, on ``[0, 1]``, ``t in [0, 0.1]``, ``u(0, t) = 1``,
    ``u(x, 0) = 0``; parameter ``u*`` in ``(0, 1)``."""

    name = "stefan"
    x_range, t_end, param_name, param_range = (0.0, 1.0), 0.1, "u_star", (0.55, 0.7)
    param_bounds, param_meaning = (0.0, 1.0), "the threshold of k = 1{u >= u*}"

    @staticmethod
    def constants(u_star) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z1, alpha, c1)`` per value of ``u*`` (float64)."""
        values = np.atleast_1d(np.asarray(torch.as_tensor(u_star, dtype=torch.float64).cpu()).reshape(-1))
        z1 = np.array([brentq(lambda z: us * erf(z) * z * np.exp(z * z) - (1 - us) / np.sqrt(np.pi), 1e-12, 10.0,
                              xtol=1e-15, rtol=1e-15) for us in values])
        z1 = torch.from_numpy(z1)
        return z1, 2 * z1, (1 - torch.from_numpy(values)) / torch.erf(z1)

    def exact(self, param, t, x):
        _, alpha, c1 = (v.reshape(-1, 1, 1) for v in self.constants(param))
        t = torch.as_tensor(t, dtype=torch.float64)
        root = torch.sqrt(t)
        inside = 1 - c1 * torch.erf(x / (2 * torch.where(root > 0, root, 1.0)))
        return torch.where((x <= alpha * root) & (root > 0), inside, torch.zeros_like(inside))

    def mass(self, param, t):
        """``b(t) = int u dx``, ``(n, *t.shape)``."""
        c1, t = _per_sample(self.constants(param)[2], t)
        return 2 * c1 * torch.sqrt(t / math.pi)

    def diffusivity(self, param, u):
        return (u >= torch.as_tensor(param, dtype=u.dtype, device=u.device)).to(u.dtype)

    def boundary_condition(self, param, t):
        t = torch.as_tensor(t, dtype=torch.float64)
        return torch.ones_like(t), torch.zeros_like(t)

    def _scheme(self, p, cells):
        return FiniteVolume1D(cells, diffusivity=lambda u: (u >= p).to(u.dtype), bc=("dirichlet", "outflow"),
                              left=1.0)
