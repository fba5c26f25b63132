"""The generalised porous medium equation (GPME) ``u_t = (k(u) u_x)_x`` in one dimension:
the three members of ProbConserv's benchmark (Hansen et al., ICML 2023, Sec. 4 and
App. E) with their closed-form solutions and their integral mass ``b(t) = int u dx``.

=========  =====================  ===================  ===========================  ==========================
case       k(u)                   domain               exact solution               b(t)
=========  =====================  ===================  ===========================  ==========================
heat       k (constant)           [0, 2 pi) periodic,  exp(-k t) sin x              0
                                  t in [0, 1]
PME        u^m                    [0, 1], t in [0, 1]  (m (t - x)_+)^(1/m)          m^(1/m) t^(1+1/m) / (1+1/m)
Stefan     1 if u >= u*, else 0   [0, 1],              1 - c1 erf(x / 2 sqrt t)     2 c1 sqrt(t / pi)
                                  t in [0, 0.1]        for x <= alpha sqrt t, else 0
=========  =====================  ===================  ===========================  ==========================

Derivations (each ``b(t)`` is also checked against quadrature of the closed form):

* Heat: ``sin x`` is an eigenfunction of ``d^2/dx^2``; its mean over a period is 0 and
  periodic boundaries carry no flux, so ``b = 0``.
* PME: a travelling wave ``u = U(t - x)`` with unit speed solves ``U' = (U^m U')'``;
  integrating once (``U(0) = 0``) gives ``U^(m-1) U' = 1``, i.e. ``U(s) = (m s)^(1/m)``, so the
  front sits at ``x = t``, ``u(x, 0) = 0``, ``u(0, t) = (m t)^(1/m)`` and ``u(1, t) = 0`` for
  ``t <= 1``. ``b(t) = int_0^t (m (t - x))^(1/m) dx = m^(1/m) t^(1+1/m) / (1 + 1/m)``, which
  is ProbConserv's ``m^(1+1/m) t^(1+1/m) / (m + 1)``; it grows only through the flux
  ``-k u_x = u(0, t)`` entering at ``x = 0`` (``b' = (m t)^(1/m)``). Vázquez, *The Porous
  Medium Equation* (OUP 2007), sec. 4.3 (travelling waves).
* Stefan: the Neumann similarity solution (Crank, *Free and Moving Boundary Problems*,
  OUP 1984, sec. 1.3) of the one-phase problem with ``u(0, t) = 1``, ``u(x, 0) = 0``.
  Where ``u >= u*`` the equation is the heat equation, solved by
  ``1 - c1 erf(x / 2 sqrt t)``; beyond the front ``x = alpha sqrt t`` ``k = 0`` and ``u = 0``.
  ``u`` jumps from ``u*`` to 0 there, and conservation across the jump (front speed times
  ``u*`` = the flux ``-u_x``) together with ``u = u*`` at the front gives ``z1`` from
  ``u* erf(z1) z1 exp(z1^2) = (1 - u*) / sqrt(pi)``, ``alpha = 2 z1``,
  ``c1 = (1 - u*) / erf(z1)``. With ``y = x / 2 sqrt t``,
  ``b = 2 sqrt t int_0^z1 (1 - c1 erf y) dy = 2 sqrt t [z1 u* + c1 (1 - exp(-z1^2)) / sqrt(pi)]``,
  and the defining equation ``z1 u* = c1 exp(-z1^2) / sqrt(pi)`` reduces it to
  ``2 c1 sqrt(t / pi)``. The formula needs the front inside ``[0, 1]`` up to ``t = 0.1``:
  ``u* > 0.0292`` (the class accepts ``u* in (0.03, 1)``).

Parameters per sample and ProbConserv's train -> test values: heat ``k ~ U[1, 5]`` ->
{1, 5}; PME ``m ~ U[1, 6]`` -> {1, 3, 6}; Stefan ``u* ~ U[0.55, 0.7]`` -> {0.6, 0.5}.
``sample_inputs`` draws the parameter, ``(n, 1)`` float64; ``solve`` evaluates the closed
form on the ``(n_times, resolution)`` grid, ``(n, n_times, resolution)`` (ProbConserv
evaluates on 201 x 201, the default).

Each class also offers :meth:`solve_fv`, a finite-volume solution from
:class:`sciml.pde.FiniteVolume1D` (second-order central diffusion with the arithmetic
face diffusivity, which lets degenerate fronts advance; Dirichlet data at ``x = 0``,
zero gradient at ``x = 1``; SSP-RK3 in time), for checks and for data without closed
form. For physics-informed models: ``domain``, ``initial_condition(param, x)``,
``boundary_condition(param, t)``, ``diffusivity(param, u)`` and
``residual(u_fn, param, t, x)``, which differentiates a callable ``u_fn(t, x)`` (e.g. a
network) by autograd and returns ``u_t - (k(u) u_x)_x`` at the points. The PME and Stefan
solutions are not classical at their fronts (see the classes), so their residual
vanishes only away from the fronts.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.special import erf

from sciml.pde import FiniteVolume1D

from ._parametric import ParametricLaw1D, param_tensor, param_and_times

__all__ = ["Heat", "PorousMedium", "Stefan"]


class Heat(ParametricLaw1D):
    """``u_t = k u_xx`` on ``[0, 2 pi)`` periodic from ``u0 = sin x``; parameter ``k > 0``."""

    name = "heat"
    x_range, t_end, param_name, param_range, periodic = (0.0, 2 * math.pi), 1.0, "k", (1.0, 5.0), True
    param_meaning = "the diffusivity"

    def exact(self, param, t, x):
        """``exp(-k t) sin x``; ``param`` is read as ``(n, 1, 1)`` and broadcast with ``t``, ``x``."""
        return torch.exp(-param_tensor(param) * t) * torch.sin(x)

    def mass(self, param, t):
        """``b(t) = int u dx``, ``(n, *t.shape)``."""
        k, t = param_and_times(param, t)
        return torch.zeros_like(k * t)

    def diffusivity(self, param, u):
        """``k(u) = k``; ``param`` broadcasts against ``u``."""
        return torch.as_tensor(param, dtype=u.dtype, device=u.device) * torch.ones_like(u)

    def boundary_condition(self, param, t):
        """No boundary values: the domain is periodic (returns ``None``)."""

    def _scheme(self, p, cells):
        return FiniteVolume1D(cells, length=2 * math.pi, diffusivity=lambda u: p.expand_as(u), bc="periodic")


class PorousMedium(ParametricLaw1D):
    """``u_t = (u^m u_x)_x`` on ``[0, 1]``, ``t in [0, 1]``: the unit-speed travelling wave
    ``u = (m (t - x)_+)^(1/m)``; parameter ``m > 0`` per sample (ProbConserv: ``m ~ U[1, 6]``).

    The front ``x = t`` is degenerate (``k = 0`` ahead of it): there ``u_x`` is infinite for
    ``m > 1`` (and jumps for ``m = 1``), so the autograd residual vanishes only for
    ``x < t``; across the front the equation holds in the weak sense.
    """

    name = "porous_medium"
    x_range, t_end, param_name, param_range = (0.0, 1.0), 1.0, "m", (1.0, 6.0)
    param_meaning = "the exponent of k = u^m"

    def exact(self, param, t, x):
        """``(m (t - x)_+)^(1/m)``; ``param`` is read as ``(n, 1, 1)`` and broadcast with ``t``, ``x``."""
        m = param_tensor(param)
        return (m * torch.clamp(t - x, min=0.0)) ** (1 / m)

    def mass(self, param, t):
        """``b(t) = int u dx``, ``(n, *t.shape)``."""
        m, t = param_and_times(param, t)
        return m ** (1 + 1 / m) * t ** (1 + 1 / m) / (m + 1)

    def diffusivity(self, param, u):
        """``k(u) = u^m`` (``u`` clamped at 0); ``param`` broadcasts against ``u``."""
        return u.clamp(min=0) ** torch.as_tensor(param, dtype=u.dtype, device=u.device)

    def boundary_condition(self, param, t):
        """Dirichlet values ``(u(0, t), u(1, t)) = ((m t)^(1/m), 0)``, each ``(n, *t.shape)``
        (the right value holds while the front is inside, ``t <= 1``)."""
        m, t = param_and_times(param, t)
        return (m * t) ** (1 / m), torch.zeros_like(m * t)

    def _scheme(self, p, cells):
        return FiniteVolume1D(cells, diffusivity=lambda u: u.clamp(min=0) ** p, bc=("dirichlet", "outflow"),
                              left=lambda t: (p * t) ** (1 / p))


class Stefan(ParametricLaw1D):
    """``u_t = (k(u) u_x)_x``, ``k = 1{u >= u*}``, on ``[0, 1]``, ``t in [0, 0.1]``, ``u(0, t) = 1``,
    ``u(x, 0) = 0``; parameter ``u*`` in ``(0.03, 1)`` per sample (ProbConserv:
    ``u* ~ U[0.55, 0.7]``, tested at 0.6 and 0.5).

    ``k`` is a step, so the equation is the heat equation where ``u > u*`` and ``u_t = 0``
    where ``u < u*``; the solution jumps from ``u*`` to 0 at the front ``alpha sqrt t``. The
    autograd residual (which sees ``dk/du = 0``) vanishes behind the front and ahead of
    it, but at the front only the weak (integral) form holds: a physics-informed loss
    should avoid the front or be paired with the integral constraint ``b(t)``.
    """

    name = "stefan"
    x_range, t_end, param_name, param_range = (0.0, 1.0), 0.1, "u_star", (0.55, 0.7)
    param_bounds = (0.03, 1.0)
    param_meaning = "the threshold of k = 1{u >= u*}; for u* <= 0.0292 the front leaves [0, 1] before t = 0.1"

    @staticmethod
    def constants(u_star) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(z1, alpha, c1)`` per value of ``u*`` (float64)."""
        values = np.atleast_1d(np.asarray(torch.as_tensor(u_star, dtype=torch.float64).cpu()).reshape(-1))

        def front_equation(z, us):
            return us * erf(z) * z * np.exp(z * z) - (1 - us) / np.sqrt(np.pi)

        # f(0+) = -(1 - u*) / sqrt(pi) < 0 < f(10) for every u* in (0, 1)
        z1 = np.array([brentq(front_equation, 1e-12, 10.0, args=(us,), xtol=1e-15, rtol=1e-15) for us in values])
        z1 = torch.from_numpy(z1)
        return z1, 2 * z1, (1 - torch.from_numpy(values)) / torch.erf(z1)

    def exact(self, param, t, x):
        """The Neumann solution; ``param`` is read as ``(n, 1, 1)`` and broadcast with ``t``, ``x``."""
        _, alpha, c1 = (v.reshape(-1, 1, 1) for v in self.constants(param))
        t = torch.as_tensor(t, dtype=torch.float64)
        root = torch.sqrt(t)
        inside = 1 - c1 * torch.erf(x / (2 * torch.where(root > 0, root, 1.0)))
        return torch.where((x <= alpha * root) & (root > 0), inside, torch.zeros_like(inside))

    def mass(self, param, t):
        """``b(t) = int u dx``, ``(n, *t.shape)``."""
        c1, t = param_and_times(self.constants(param)[2], t)
        return 2 * c1 * torch.sqrt(t / math.pi)

    def diffusivity(self, param, u):
        """``k(u) = 1{u >= u*}``; ``param`` broadcasts against ``u``."""
        return (u >= torch.as_tensor(param, dtype=u.dtype, device=u.device)).to(u.dtype)

    def boundary_condition(self, param, t):
        """Dirichlet values ``(u(0, t), u(1, t)) = (1, 0)``, each ``(n, *t.shape)``."""
        u_star, t = param_and_times(param, t)
        return torch.ones_like(u_star * t), torch.zeros_like(u_star * t)

    def _scheme(self, p, cells):
        return FiniteVolume1D(cells, diffusivity=lambda u: (u >= p).to(u.dtype), bc=("dirichlet", "outflow"),
                              left=1.0)
