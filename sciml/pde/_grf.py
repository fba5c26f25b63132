"""Gaussian random fields with the covariance operator ``sigma^2 (-Delta + tau^2)^(-alpha)``.

The field is the Karhunen–Loève sum ``u = sum_m sqrt(lambda_m) xi_m e_m`` over the
L2-orthonormal eigenfunctions ``e_m`` of ``-Delta`` on the domain, with
``lambda_m = sigma^2 (|k_m|^2 + tau^2)^(-alpha)`` and independent standard normal
``xi_m`` (Lord, Powell & Shardlow, *An Introduction to Computational Stochastic
PDEs*, Ch. 7), truncated to the modes the grid resolves:

* periodic: the torus ``[0, L)^d`` sampled at ``x_j = j L / n``, ``e_m = exp(i k_m.x) /
  sqrt(|Omega|)``; sampled exactly on the grid by filtering white noise with FFTs;
* dirichlet: the box ``[0, 1]^d`` sampled at ``x_j = j / (n - 1)`` (boundary points
  included, where the field is 0), ``e_m = prod_i sqrt(2) sin(pi m_i x_i)``,
  ``|k_m|^2 = pi^2 |m|^2``, ``m_i = 1 .. n - 2``;
* neumann: the box ``[0, 1]^d`` at ``x_j = j / (n - 1)``, ``e_m = prod_i c_{m_i} cos(pi
  m_i x_i)`` with ``c_0 = 1``, ``c_m = sqrt(2)``, ``m_i = 0 .. n - 1`` (zero normal
  derivative; the covariance of the coefficient fields of the FNO Darcy data set,
  which are this field with ``alpha = 2``, ``tau = 3``, its constant mode removed,
  thresholded at 0).

``zero_mean=True`` drops the constant mode (periodic and neumann), as the FNO
generators do.

``sigma=None`` uses ``tau^(alpha - d/2)``, the scaling of the FNO data generators
(Li et al., ICLR 2021), which keeps the variance of order one as tau changes.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from sciml.validation import check_int, check_real

from ._spectral import SpectralGrid

__all__ = ["gaussian_random_field", "grf_eigenvalues", "grf_from_noise"]


def _check(shape, alpha, tau, boundary):
    if isinstance(shape, str) or not hasattr(shape, "__iter__"):
        raise TypeError(f"shape must be a tuple of 1 to 3 grid sizes such as (64, 64), got {shape!r}")
    shape = tuple(check_int(f"shape[{i}]", n, minimum=None) for i, n in enumerate(shape))
    alpha = check_real("alpha", alpha)
    tau = check_real("tau", tau)
    if not 1 <= len(shape) <= 3 or any(n < 3 for n in shape):
        raise ValueError(f"shape must list 1 to 3 grid sizes >= 3, got {shape}")
    if not (alpha > 0 and tau >= 0 and math.isfinite(alpha) and math.isfinite(tau)):
        raise ValueError(f"need alpha > 0 and tau >= 0, got alpha={alpha}, tau={tau}")
    if boundary not in ("periodic", "dirichlet", "neumann"):
        raise ValueError(f"unknown boundary {boundary!r}; known: dirichlet, neumann, periodic")
    return shape


def grf_eigenvalues(shape: Sequence[int], alpha: float, tau: float, sigma: float | None = None,
                    boundary: str = "periodic", dtype=torch.float64, device=None,
                    zero_mean: bool = False) -> torch.Tensor:
    """``lambda_m`` on the resolved modes: real-FFT layout ``(*shape[:-1], n_d//2+1)``
    (periodic, unit torus), ``(n_1 - 2, ..., n_d - 2)`` (dirichlet) or ``(n_1, ...,
    n_d)`` (neumann). With ``zero_mean`` the constant mode's eigenvalue is 0."""
    shape = _check(shape, alpha, tau, boundary)
    if sigma is None:
        sigma = tau ** (alpha - len(shape) / 2)
    else:
        sigma = check_real("sigma", sigma, positive=True)
    if boundary == "periodic":
        k2 = SpectralGrid(shape).k_squared(dtype, device)
    else:
        start, stop = (1, -1) if boundary == "dirichlet" else (0, 0)
        axes = [math.pi * torch.arange(start, n + stop, dtype=dtype, device=device) for n in shape]
        k2 = sum(a.view([-1 if i == j else 1 for j in range(len(shape))]) ** 2 for i, a in enumerate(axes))
    constant = zero_mean and boundary != "dirichlet"
    if tau == 0 and boundary != "dirichlet" and not constant:
        raise ValueError(f"tau = 0 makes the constant mode's variance infinite ({boundary}); use tau > 0 "
                         "or zero_mean=True")
    lam = sigma**2 * (k2 + tau**2) ** (-alpha)
    if constant:
        lam = lam.clone()
        lam.view(-1)[0] = 0.0
    return lam


def gaussian_random_field(n_samples: int, shape: Sequence[int], alpha: float = 2.0, tau: float = 3.0,
                          sigma: float | None = None, boundary: str = "periodic", *,
                          zero_mean: bool = False, generator: torch.Generator | None = None,
                          dtype: torch.dtype = torch.float32,
                          device=None) -> torch.Tensor:
    """Draw ``n_samples`` fields of shape ``shape`` on the unit torus or unit box.

    Returns ``(n_samples, *shape)``. The same generator state gives the same fields
    (draws are made in float64 on ``device`` and cast to ``dtype``).
    """
    n_samples = check_int("n_samples", n_samples)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise (ValueError if isinstance(dtype, torch.dtype) else TypeError)(
            f"dtype must be a floating torch dtype (torch.float32 or torch.float64), got {dtype}; the fields "
            f"are real-valued and would be truncated")
    lam = grf_eigenvalues(shape, alpha, tau, sigma, boundary, torch.float64, device, zero_mean)
    shape = tuple(int(n) for n in shape)
    noise_shape = shape if boundary == "periodic" else tuple(lam.shape)
    noise = torch.randn((n_samples, *noise_shape), generator=generator, dtype=torch.float64, device=device)
    return grf_from_noise(noise, shape, alpha, tau, sigma, boundary, zero_mean=zero_mean).to(dtype)


def grf_from_noise(noise: torch.Tensor, shape: Sequence[int], alpha: float = 2.0, tau: float = 3.0,
                   sigma: float | None = None, boundary: str = "periodic", *, zero_mean: bool = False) -> torch.Tensor:
    """The field of :func:`gaussian_random_field` for given standard-normal ``noise``, a
    linear and differentiable map: the parametrisation ``u = C^(1/2) xi`` of inverse
    problems with this prior (``|xi|^2 / 2`` is then the negative log prior).

    ``noise``: ``(batch, *shape)`` white noise on the grid (periodic) or ``(batch,
    *modes)`` Karhunen–Loève coefficients (dirichlet: ``n_i - 2`` modes per axis;
    neumann: ``n_i``). Returns ``(batch, *shape)`` in the dtype of ``noise``.
    """
    lam = grf_eigenvalues(shape, alpha, tau, sigma, boundary, noise.dtype, noise.device, zero_mean)
    shape = tuple(int(n) for n in shape)
    expected = shape if boundary == "periodic" else tuple(lam.shape)
    if noise.dim() != len(shape) + 1 or tuple(noise.shape[1:]) != expected:
        raise ValueError(f"noise must have shape (batch, {', '.join(map(str, expected))}) for a {boundary} field "
                         f"on {shape}, got {tuple(noise.shape)}")
    if boundary == "periodic":
        grid = SpectralGrid(shape)
        # white noise has E|w_hat_m|^2 = 1/N in the forward-normalised FFT; e_m = exp(i k.x) on the unit torus
        return grid.ifft(grid.fft(noise) * (lam * math.prod(shape)).sqrt())
    field = noise * lam.sqrt()
    for axis, n in enumerate(shape):
        x = torch.linspace(0.0, 1.0, n, dtype=noise.dtype, device=noise.device)
        if boundary == "dirichlet":
            modes = torch.arange(1, n - 1, dtype=noise.dtype, device=noise.device)
            basis = math.sqrt(2.0) * torch.sin(math.pi * modes[:, None] * x[None, :])  # (modes, n)
        else:
            modes = torch.arange(n, dtype=noise.dtype, device=noise.device)
            basis = math.sqrt(2.0) * torch.cos(math.pi * modes[:, None] * x[None, :])
            basis[0] = 1.0
        field = torch.movedim(torch.movedim(field, 1 + axis, -1) @ basis, -1, 1 + axis)
    return field
