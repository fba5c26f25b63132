"""Convection–diffusion on the periodic interval: ``u_t + beta u_x = nu u_xx``.

Domain ``x in [0, 2 pi)`` (periodic), ``t in [0, t_end]``. In Fourier space every mode
evolves independently, ``u_hat_k(t) = u_hat_k(0) exp((-i beta k - nu k^2) t)``, so the
solution is exact up to round-off for any band-limited initial condition (the
Nyquist mode of an even grid is not advected, as a real grid function cannot carry
its phase): this is
the reference of the convection failure modes of PINNs (Krishnapriyan et al.,
NeurIPS 2021, who use ``u_0 = sin x`` and beta up to 50).

``Advection`` (below) is the hyperbolic case with an inflow boundary and a
discontinuous closed form, from ProbConserv's benchmark.

Inputs of ``Convection`` are initial conditions drawn from the periodic Gaussian random field
``(-Delta + tau^2)^(-alpha)`` on the unit torus, sampled on the grid and read as
functions of ``x / (2 pi)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.pde import ConvexFlux, FiniteVolume1D, SpectralGrid, gaussian_random_field
from sciml.problems import Problem
from sciml.validation import check_int, check_real, check_tensor

from ._parametric import ParametricLaw1D, param_tensor, param_and_times

__all__ = ["Advection", "Convection"]


class Convection(Problem):
    """Args:
        beta: advection speed.
        nu: diffusion coefficient (>= 0).
        resolution: grid points on ``[0, 2 pi)``.
        n_times: output times, equispaced on ``[0, t_end]`` (the first is the input).
        t_end: final time.
        alpha, tau: the initial-condition field's covariance parameters.
    """

    name = "convection"

    def __init__(self, beta: float = 1.0, nu: float = 0.0, resolution: int = 128, n_times: int = 11,
                 t_end: float = 1.0, alpha: float = 2.5, tau: float = 7.0):
        self.beta = check_real("beta", beta)
        self.nu = check_real("nu", nu, nonnegative=True, hint="the diffusion needs nu >= 0 (0: pure advection)")
        self.resolution = check_int("resolution", resolution, minimum=4)
        self.n_times = check_int("n_times", n_times, minimum=2)
        self.t_end = check_real("t_end", t_end, positive=True)
        self.alpha, self.tau = check_real("alpha", alpha, positive=True), check_real("tau", tau, positive=True)
        self.spectral = SpectralGrid((self.resolution,), length=2 * math.pi)

    def parameters(self) -> dict:
        return {"beta": self.beta, "nu": self.nu, "resolution": self.resolution, "n_times": self.n_times,
                "t_end": self.t_end, "alpha": self.alpha, "tau": self.tau}

    def grid(self) -> dict:
        return {"x": np.arange(self.resolution) * (2 * np.pi / self.resolution),
                "t": np.linspace(0.0, self.t_end, self.n_times)}

    def times(self, dtype=torch.float64) -> torch.Tensor:
        return torch.linspace(0.0, self.t_end, self.n_times, dtype=dtype)

    def sample_inputs(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Initial conditions, ``(n, resolution)`` float32."""
        return gaussian_random_field(n, (self.resolution,), self.alpha, self.tau, generator=generator)

    def solve(self, inputs: torch.Tensor, times: torch.Tensor | None = None) -> torch.Tensor:
        """``u(x, t)`` at the output times, ``(n, n_times, resolution)`` in the input dtype."""
        check_tensor("inputs", inputs, shape=(None, self.resolution), floating=True, finite=True,
                     layout="(n, resolution) initial conditions")
        u0 = inputs.to(torch.float64)
        t = self.times() if times is None else torch.as_tensor(times, dtype=torch.float64)
        (k,) = self.spectral.wavenumbers(torch.float64, u0.device)
        (k_odd,) = self.spectral.wavenumbers(torch.float64, u0.device, odd=True)
        rate = -1j * self.beta * k_odd - self.nu * k * k
        u_hat = self.spectral.fft(u0).unsqueeze(-2) * torch.exp(rate * t.to(u0.device).unsqueeze(-1))
        return self.spectral.ifft(u_hat).to(inputs.dtype)

    def initial_condition(self, x: torch.Tensor) -> torch.Tensor:
        """The PINN benchmark's ``u_0 = sin x``."""
        return torch.sin(x)

    def residual(self, u_t: torch.Tensor, u_x: torch.Tensor, u_xx: torch.Tensor) -> torch.Tensor:
        """``u_t + beta u_x - nu u_xx`` from the derivatives at collocation points."""
        return u_t + self.beta * u_x - self.nu * u_xx


class Advection(ParametricLaw1D):
    """Linear advection with inflow, ProbConserv's ``4b`` case (Hansen et al., ICML 2023):
    ``u_t + a u_x = 0`` on ``x in [0, 1]``, ``t in [0, 1]``, ``u_0 = 1{x <= 1/2}``,
    inflow ``u(0, t) = 1``; speed ``a > 0`` per sample, ``a ~ U[1, 5]`` (test {1, 3}).

    ``u`` is constant along the characteristics ``x - a t = const``; those from ``x_0 in
    [0, 1]`` carry ``u_0(x_0)`` and those entering at ``x = 0`` (``x < a t``) carry the inflow
    value 1, so ``u(x, t) = 1{x - a t <= 1/2}``: the step moves right at speed ``a`` and
    leaves through ``x = 1`` at ``t = 1 / (2a)``. Mass ``b(t) = 1/2 + min(a t, 1/2)``: the
    inflow flux ``a`` enters until the step reaches ``x = 1``, after which the outflow
    flux ``a`` balances it. The closed form is discontinuous, so the autograd residual
    applies to smooth ``u_fn`` only (any ``f(x - a t)`` gives 0).

    Args:
        resolution, n_times, param_range: as for every one-parameter law (grid of
            :meth:`solve`, range of :meth:`sample_inputs`).
        reconstruction: the finite-volume scheme of :meth:`solve_fv`, with the upwind
            flux and SSP-RK3: ``"constant"`` (first-order upwind; L1 error
            ``O(dx^(1/2))`` at the step) or ``"muscl"`` (van Leer-limited, second order
            where smooth; ``O(dx^(2/3))`` at the step).
    """

    name = "advection"
    x_range, t_end, param_name, param_range = (0.0, 1.0), 1.0, "a", (1.0, 5.0)
    param_meaning = "the advection speed, inflow on the left"
    reconstructions = ("constant", "muscl")

    def __init__(self, resolution: int = 201, n_times: int = 201, param_range=None, reconstruction: str = "muscl"):
        if reconstruction not in self.reconstructions:
            raise ValueError(f"reconstruction must be one of {', '.join(map(repr, self.reconstructions))}, "
                             f"got {reconstruction!r}")
        super().__init__(resolution, n_times, param_range)
        self.reconstruction = reconstruction

    def exact(self, param, t, x):
        """``1{x - a t <= 1/2}``; ``param`` is read as ``(n, 1, 1)`` and broadcast with ``t``, ``x``."""
        a = param_tensor(param)
        return (x - a * t <= 0.5).to(torch.float64)

    def mass(self, param, t):
        """``b(t) = int u dx``, ``(n, *t.shape)``."""
        a, t = param_and_times(param, t)
        return 0.5 + torch.clamp(a * t, max=0.5)

    def flux(self, param, u):
        """``F(u) = a u``; ``param`` broadcasts against ``u``."""
        return torch.as_tensor(param, dtype=u.dtype, device=u.device) * u

    def boundary_condition(self, param, t):
        """``(u(0, t), None)``: the inflow value 1, ``(n, *t.shape)``; no condition at the
        outflow boundary ``x = 1``."""
        a, t = param_and_times(param, t)
        return torch.ones_like(a * t), None

    def _scheme(self, p, cells):
        return FiniteVolume1D(cells, flux=ConvexFlux(lambda u: p * u, lambda u: p.expand_as(u)),
                              numerical_flux="upwind", reconstruction=self.reconstruction, limiter="vanleer",
                              bc=("inflow", "outflow"), left=1.0)
