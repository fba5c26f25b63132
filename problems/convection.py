"""Convection–diffusion on the periodic interval: ``u_t + beta u_x = nu u_xx``.

Domain ``x in [0, 2 pi)`` (periodic), ``t in [0, t_end]``. In Fourier space every mode
evolves independently, ``u_hat_k(t) = u_hat_k(0) exp((-i beta k - nu k^2) t)``, so the
solution is exact up to round-off for any band-limited initial condition (the
Nyquist mode of an even grid is not advected, as a real grid function cannot carry
its phase): this is
the reference of the convection failure modes of PINNs (Krishnapriyan et al.,
NeurIPS 2021, who use ``u_0 = sin x`` and beta up to 50).

Inputs are initial conditions drawn from the periodic Gaussian random field
``(-Delta + tau^2)^(-alpha)`` on the unit torus, sampled on the grid and read as
functions of ``x / (2 pi)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sciml.pde import SpectralGrid, gaussian_random_field
from sciml.problems import Problem

__all__ = ["Convection"]


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
        if not (nu >= 0 and t_end > 0 and resolution >= 4 and n_times >= 2):
            raise ValueError(f"need nu >= 0, t_end > 0, resolution >= 4, n_times >= 2; got nu={nu}, "
                             f"t_end={t_end}, resolution={resolution}, n_times={n_times}")
        self.beta, self.nu, self.resolution, self.n_times = float(beta), float(nu), int(resolution), int(n_times)
        self.t_end, self.alpha, self.tau = float(t_end), float(alpha), float(tau)
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
