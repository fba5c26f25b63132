"""Viscous Burgers equation on the periodic unit interval: ``u_t + (u^2 / 2)_x = nu u_xx``.

The FNO benchmark setting (Li et al., ICLR 2021, Sec. 5.1): ``x in [0, 1)``, ``nu =
0.1``, ``u_0 ~ N(0, 625 (-Delta + 25 I)^(-2))``, map ``u_0 -> u(., 1)``.

Solver: pseudo-spectral in space (2/3 de-aliased nonlinear term) with the implicit–
explicit Crank–Nicolson low-storage Runge–Kutta stepper of :mod:`sciml.pde`
(viscosity implicit, advection explicit; second order in time).

Closed form for checks (Cole–Hopf): ``u = -2 nu phi_x / phi`` where ``phi`` solves the
heat equation ``phi_t = nu phi_xx`` from ``phi_0 = exp(-(1 / (2 nu)) int_0^x u_0)``;
for zero-mean ``u_0`` the potential is periodic and the heat equation is solved
exactly in Fourier space (:meth:`Burgers.cole_hopf`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.pde import (FiniteVolume1D, SolverStepper, SpectralGrid, burgers_flux, crank_nicolson_rk4,
                       gaussian_random_field, rollout)
from sciml.problems import Problem
from sciml.validation import check_int, check_real, check_tensor

from ._parametric import ParametricLaw1D, param_tensor, param_and_times

__all__ = ["Burgers", "BurgersRamp"]


class Burgers(Problem):
    """Args:
        nu: viscosity (> 0).
        resolution: grid points on ``[0, length)``.
        n_times: output times on ``[0, t_end]`` (the first is the input).
        t_end: final time.
        dt: time step of the IMEX solver.
        length: the period (1 for the FNO setting; ``2 pi`` for the PINN literature's
            ``u_0 = sin x + C``).
    """

    name = "burgers"

    def __init__(self, nu: float = 0.1, resolution: int = 256, n_times: int = 2, t_end: float = 1.0,
                 dt: float = 1e-3, length: float = 1.0):
        self.nu, self.t_end = check_real("nu", nu, positive=True), check_real("t_end", t_end, positive=True)
        self.resolution = check_int("resolution", resolution, minimum=8)
        self.n_times = check_int("n_times", n_times, minimum=2)
        dt, self.length = check_real("dt", dt, positive=True), check_real("length", length, positive=True)
        steps_per_output = math.ceil(self.t_end / (self.n_times - 1) / dt - 1e-9)
        self.steps_per_output = steps_per_output
        self.dt = self.t_end / (self.n_times - 1) / steps_per_output
        self.spectral = SpectralGrid((self.resolution,), length=self.length)

    def parameters(self) -> dict:
        return {"nu": self.nu, "resolution": self.resolution, "n_times": self.n_times, "t_end": self.t_end,
                "dt": self.dt, "length": self.length}

    def grid(self) -> dict:
        return {"x": np.arange(self.resolution) * (self.length / self.resolution),
                "t": np.linspace(0.0, self.t_end, self.n_times)}

    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """FNO's initial data ``N(0, 625 (-Delta + 25 I)^(-2))``, ``(n, resolution)`` float32."""
        return gaussian_random_field(n, (self.resolution,), alpha=2.0, tau=5.0, sigma=25.0, generator=generator)

    def solve(self, inputs: torch.Tensor) -> torch.Tensor:
        """``u`` at the output times, ``(n, n_times, resolution)`` in the input dtype."""
        check_tensor("inputs", inputs, shape=(None, self.resolution), floating=True, finite=True,
                     layout="(n, resolution) initial conditions")
        u_hat = self.spectral.fft(inputs.to(torch.float64))
        stepper = self._stepper(u_hat)
        path = rollout(stepper, u_hat, self.steps_per_output * (self.n_times - 1), self.steps_per_output)
        return self.spectral.ifft(path).movedim(0, -2).to(inputs.dtype)

    def _stepper(self, like: torch.Tensor):
        grid = self.spectral
        (k,) = grid.wavenumbers(torch.float64, like.device)
        (k_odd,) = grid.wavenumbers(torch.float64, like.device, odd=True)
        mask = grid.dealias_mask(torch.float64, like.device)

        def advection(v_hat):
            u = grid.ifft(v_hat * mask)
            return -0.5j * k_odd * grid.fft(u * u) * mask

        return crank_nicolson_rk4(-self.nu * k * k, advection, self.dt)

    @property
    def solver_resolution(self) -> int:
        """The solver runs on the output grid."""
        return self.resolution

    def at_resolution(self, resolution: int) -> "Burgers":
        """The same problem (viscosity, period, time step, output times) on ``resolution`` points."""
        resolution = check_int("resolution", resolution, minimum=8)
        if resolution == self.resolution:
            return self
        return Burgers(nu=self.nu, resolution=resolution, n_times=self.n_times, t_end=self.t_end, dt=self.dt,
                       length=self.length)

    def solver_stepper(self, substeps: int | None = None) -> SolverStepper:
        """The solver as a :class:`sciml.pde.SolverStepper` on states ``(batch, 1, resolution)``:
        one call is ``substeps`` steps of ``dt`` (default: one output interval)."""
        grid, n = self.spectral, self.resolution

        def encode(u):
            if u.dim() != 3 or tuple(u.shape[1:]) != (1, n):
                raise ValueError(f"burgers stepper: states are (batch, 1, {n}), got {tuple(u.shape)}")
            return grid.fft(u[:, 0].to(torch.float64))

        return SolverStepper(self._stepper, self.dt, self.steps_per_output if substeps is None else substeps,
                             encode, lambda z: grid.ifft(z).unsqueeze(1), name=f"burgers {n}")

    def cole_hopf(self, u0: torch.Tensor, t: float) -> torch.Tensor:
        """The exact solution at time ``t`` for zero-mean ``u0`` (float64)."""
        grid = self.spectral
        u0 = u0.to(torch.float64)
        if float(u0.mean(-1).abs().max()) > 1e-10 * max(1.0, float(u0.abs().max())):
            raise ValueError("the Cole-Hopf potential is periodic only for zero-mean u0; subtract the mean")
        (k,) = grid.wavenumbers(torch.float64, u0.device)
        (k_odd,) = grid.wavenumbers(torch.float64, u0.device, odd=True)
        u_hat = grid.fft(u0)
        integral = grid.ifft(torch.where(k_odd != 0, u_hat / (1j * torch.where(k_odd != 0, k_odd, 1.0)), 0.0))
        potential = -integral / (2 * self.nu)
        phi0 = torch.exp(potential - potential.amax(-1, keepdim=True))
        phi_hat = grid.fft(phi0) * torch.exp(-self.nu * k * k * t)
        return -2 * self.nu * grid.ifft(1j * k_odd * phi_hat) / grid.ifft(phi_hat)


class BurgersRamp(ParametricLaw1D):
    """Inviscid Burgers with a steepening ramp, ProbConserv's ``5b`` case (Hansen et al.,
    ICML 2023): ``u_t + (u^2 / 2)_x = 0`` on ``x in [-1, 1]``, ``t in [0, 1]``, inflow
    ``u(-1, t) = a``, ``u_0 = a`` for ``x <= -1``, ``-a x`` on ``(-1, 0]``, 0 for ``x > 0``;
    ``a ~ U[1, 4]`` (test {1, 3}).

    Characteristics from the ramp, ``x = x_0 (1 - a t)``, all meet at ``x = 0`` when
    ``t = 1/a``. Before: ``u = a`` for ``x <= -1 + a t``, ``-a x / (1 - a t)`` up to 0, then
    0. After: a shock between ``a`` and 0 at ``x_s = (a t - 1) / 2`` (Rankine–Hugoniot
    speed ``a / 2``), which leaves the domain at ``t = 3 / a``. Mass
    ``b(t) = (a / 2)(1 + a t)`` while the shock is inside, then ``2a`` (the spec's formula
    holds up to ``t = 3 / a``; for ``a > 3`` the shock exits before ``t = 1``). Check:
    ``b' = a^2 / 2``, the inflow flux ``F(a)`` at ``x = -1``, while nothing leaves at
    ``x = 1`` (``u = 0`` there). The autograd residual vanishes away from the kinks
    ``x = -1 + a t``, ``x = 0`` and the shock, where only the weak form holds.
    """

    name = "burgers_ramp"
    x_range, t_end, param_name, param_range = (-1.0, 1.0), 1.0, "a", (1.0, 4.0)
    param_meaning = "the ramp height"

    def exact(self, param, t, x):
        """The entropy solution; ``param`` is read as ``(n, 1, 1)`` and broadcast with ``t``, ``x``."""
        a = param_tensor(param)
        t, x = torch.as_tensor(t, dtype=torch.float64), torch.as_tensor(x, dtype=torch.float64)
        before = 1 - a * t > 0
        ramp = -a * x / torch.where(before, 1 - a * t, torch.ones_like(a * t))
        u_before = torch.where(x <= -1 + a * t, a, torch.where(x <= 0, ramp, torch.zeros_like(ramp)))
        u_after = torch.where(x <= (a * t - 1) / 2, a, torch.zeros_like(a * x))
        return torch.where(before, u_before, u_after)

    def mass(self, param, t):
        """``b(t) = int u dx``, ``(n, *t.shape)``."""
        a, t = param_and_times(param, t)
        return torch.clamp(0.5 * a * (1 + a * t), max=2 * a)

    def flux(self, param, u):
        """``F(u) = u^2 / 2``."""
        return 0.5 * u * u

    def boundary_condition(self, param, t):
        """``(u(-1, t), None)``: the inflow value ``a``, ``(n, *t.shape)``; outflow on the right."""
        a, t = param_and_times(param, t)
        return a * torch.ones_like(t), None

    def _scheme(self, p, cells):
        return FiniteVolume1D(cells, length=2.0, x0=-1.0, flux=burgers_flux(), numerical_flux="godunov",
                              reconstruction="muscl", limiter="minmod", bc=("inflow", "outflow"),
                              left=lambda t: p)
