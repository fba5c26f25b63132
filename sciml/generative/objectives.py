"""Quadratic objectives of stochastic interpolants (paper Thms 2.2-2.4, Sec. 6.1).

Each returns the per-batch mean of ``|model(t, x_t) - target|^2`` whose minimiser is the
conditional expectation: the velocity ``b`` (target ``alpha' x0 + beta' x1 + gamma' z``),
the denoiser ``eta = E[z | x_t]`` (target ``z``; the paper's sign, ``s = -eta / gamma``) and
the split form's ``v = E[alpha' x0 + beta' x1 | x_t]``. The velocity loss contains
``gamma'``, singular at the ends for ``gamma = sqrt(t (1 - t))``: it uses antithetic pairs
``x_t = I +- gamma z`` (Sec. 6.1), whose average cancels the singular cross term.
"""

from __future__ import annotations

import torch

from .interpolants import Interpolant

__all__ = ["denoiser_loss", "split_velocity_loss", "velocity_loss"]


def _times(x1, t, generator):
    if t is None:
        return torch.rand(x1.shape[0], generator=generator, dtype=x1.dtype, device=x1.device)
    return torch.as_tensor(t, dtype=x1.dtype, device=x1.device).expand(x1.shape[0])


def velocity_loss(model, interpolant: Interpolant, x0, x1, t=None, z=None, antithetic: bool = True,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """``E |b_hat(t, x_t) - (alpha' x0 + beta' x1 + gamma' z)|^2``; one-sided families take
    ``x0`` as the Gaussian sample."""
    t = _times(x1, t, generator)
    if z is None:
        z = torch.randn(x1.shape, generator=generator, dtype=x1.dtype, device=x1.device)
    loss = (model(t, interpolant.sample(t, x0, x1, z)) - interpolant.velocity_target(t, x0, x1, z)).square()
    if antithetic and not interpolant.one_sided:
        mirrored = model(t, interpolant.sample(t, x0, x1, -z)) - interpolant.velocity_target(t, x0, x1, -z)
        loss = 0.5 * (loss + mirrored.square())
    return loss.flatten(1).sum(1).mean()


def denoiser_loss(model, interpolant: Interpolant, x0, x1, t=None, z=None,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """``E |eta_hat(t, x_t) - z|^2`` (two-sided families: ``z`` the interpolant's noise;
    one-sided: ``z = x0``, the Gaussian end)."""
    t = _times(x1, t, generator)
    if interpolant.one_sided:
        return (model(t, interpolant.sample(t, x0, x1)) - x0).square().flatten(1).sum(1).mean()
    if z is None:
        z = torch.randn(x1.shape, generator=generator, dtype=x1.dtype, device=x1.device)
    return (model(t, interpolant.sample(t, x0, x1, z)) - z).square().flatten(1).sum(1).mean()


def split_velocity_loss(model, interpolant: Interpolant, x0, x1, t=None, z=None,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``E |v_hat(t, x_t) - (alpha' x0 + beta' x1)|^2``; then ``b = v - gamma gamma' s``."""
    t = _times(x1, t, generator)
    if z is None:
        z = torch.randn(x1.shape, generator=generator, dtype=x1.dtype, device=x1.device)
    target = interpolant.velocity_target(t, x0, x1)
    return (model(t, interpolant.sample(t, x0, x1, z)) - target).square().flatten(1).sum(1).mean()
