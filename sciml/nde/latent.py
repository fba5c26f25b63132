"""Latent ODE and latent SDE models for time series (encoder, latent dynamics, decoder).

Both take observations ``ys`` ``(batch, T, obs_dim)`` at shared times ``t`` ``(T,)``:

* the encoder is a GRU run backwards in time over ``[y_i, t_{i+1} - t_i]`` (Rubanova,
  Chen & Duvenaud 2019 use an ODE-RNN here; the GRU is their RNN baseline encoder);
  its last state gives ``q(z_0) = N(mu, diag(sigma^2))``;
* the latent dynamics is a :class:`NeuralODE` (latent ODE, Chen et al. 2018) or a
  :class:`NeuralSDE` whose posterior drift sees a context vector from the encoder and
  whose prior drift does not (latent SDE, Li, Wong, Chen & Duvenaud 2020; their context
  varies in time, here it is one vector per series);
* the decoder maps ``z(t_i)`` to the mean of a Gaussian with fixed ``obs_std``.

``loss(ys, t)`` is the negative ELBO per series, ``-log p(y | z) + beta KL(q(z_0) || N(0, I))``
(+ the path KL ``int 1/2 |(f_post - f_prior) / g|^2 dt`` for the SDE), with its terms.
The neural DE inside keeps its solver options, regularisers and NFE counters, so
:class:`RegularizedObjective` applies unchanged.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from sciml.nn import mlp
from sciml.solvers import solve_sde
from sciml.validation import ArgumentTypeError, check_int, check_real

from .neural_ode import NeuralODE
from .neural_sde import NeuralSDE

__all__ = ["LatentODE", "LatentOutput", "LatentSDE", "mlp"]


class Autonomous(nn.Module):
    """``(t, z) -> net(z)``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, t, z):
        return self.net(z)


class LatentOutput(NamedTuple):
    mean: torch.Tensor  # decoded observation means (batch, T, obs_dim)
    z: torch.Tensor  # latent path (batch, T, latent_dim)
    mu: torch.Tensor  # q(z0) mean (batch, latent_dim)
    logvar: torch.Tensor  # q(z0) log-variance (batch, latent_dim)
    path_kl: torch.Tensor | None  # latent SDE: the path KL per series (batch,)


class _Encoder(nn.Module):
    def __init__(self, obs_dim: int, hidden: int, out: int):
        super().__init__()
        self.gru = nn.GRU(obs_dim + 1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, out)

    def forward(self, ys, t):
        gaps = torch.cat([t.diff(), t.new_zeros(1)]).view(1, -1, 1).expand(ys.shape[0], -1, 1)
        _, h = self.gru(torch.cat([ys, gaps], -1).flip(1))
        return self.head(h[-1])


def _check(ys, t, obs_dim):
    if not isinstance(ys, torch.Tensor) or not ys.is_floating_point():
        got = ys.dtype if isinstance(ys, torch.Tensor) else type(ys).__name__
        raise ArgumentTypeError(f"ys must be a floating-point tensor (batch, T, {obs_dim}), got {got}")
    if ys.dim() != 3 or ys.shape[-1] != obs_dim:
        raise ValueError(f"ys must have shape (batch, T, {obs_dim}), got {tuple(ys.shape)}")
    t = torch.as_tensor(t, dtype=ys.dtype, device=ys.device)
    if t.shape != (ys.shape[1],):
        raise ValueError(f"t must have shape ({ys.shape[1]},) to match ys, got {tuple(t.shape)}")
    return t


class _Latent(nn.Module):
    def __init__(self, obs_dim, latent_dim, hidden, obs_std, enc_out):
        super().__init__()
        obs_std = check_real("obs_std", obs_std, positive=True)
        obs_dim, latent_dim, hidden = check_int("obs_dim", obs_dim), check_int("latent_dim", latent_dim), \
            check_int("hidden", hidden)
        self.obs_dim, self.latent_dim, self.obs_std = obs_dim, latent_dim, obs_std
        self.encoder = _Encoder(obs_dim, hidden, enc_out)
        self.decoder = nn.Linear(latent_dim, obs_dim)

    def _sample_z0(self, mu, logvar):
        if not self.training:
            return mu
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def loss(self, ys: torch.Tensor, t: torch.Tensor, kl_weight: float = 1.0):
        """``(negative ELBO per series, {"nll", "kl_z0"[, "kl_path"], "mse"})``."""
        out = self(ys, t)
        var = self.obs_std ** 2
        nll = 0.5 * ((ys - out.mean).square() / var + math.log(2 * math.pi * var)).sum((1, 2)).mean()
        kl0 = 0.5 * (out.mu.square() + out.logvar.exp() - 1 - out.logvar).sum(1).mean()
        loss = nll + kl_weight * kl0
        terms = {"nll": nll.detach(), "kl_z0": kl0.detach(), "mse": (ys - out.mean).square().mean().detach()}
        if out.path_kl is not None:
            kl_path = out.path_kl.mean()
            loss = loss + kl_weight * kl_path
            terms["kl_path"] = kl_path.detach()
        return loss, terms


class LatentODE(_Latent):
    """Encoder -> ``z_0 ~ q(z_0)`` -> ``dz/dt = MLP(z)`` (:class:`NeuralODE`) -> linear decoder.

    Args:
        obs_dim, latent_dim: sizes of observations and latent state.
        hidden: GRU and dynamics width; ``layers`` hidden layers in the dynamics MLP.
        obs_std: the fixed observation noise of the likelihood.
        method, rtol, atol, adjoint, regularize, local, seed: for :class:`NeuralODE`.
    """

    def __init__(self, obs_dim: int, latent_dim: int = 4, hidden: int = 32, layers: int = 2, obs_std: float = 0.01,
                 *, method: str = "tsit5", rtol: float = 1e-6, atol: float = 1e-6, adjoint=False,
                 regularize: str | None = None, local: str | None = None, seed: int = 0):
        super().__init__(obs_dim, latent_dim, hidden, obs_std, 2 * latent_dim)
        layers = check_int("layers", layers)
        self.ode = NeuralODE(Autonomous(mlp([latent_dim] + [hidden] * layers + [latent_dim])), method=method,
                             rtol=rtol, atol=atol, adjoint=adjoint, regularize=regularize, local=local, seed=seed)

    def forward(self, ys: torch.Tensor, t: torch.Tensor) -> LatentOutput:
        t = _check(ys, t, self.obs_dim)
        mu, logvar = self.encoder(ys, t).chunk(2, -1)
        z = self.ode(self._sample_z0(mu, logvar), t).transpose(0, 1)
        return LatentOutput(self.decoder(z), z, mu, logvar, None)

    def extrapolate(self, ys: torch.Tensor, t_obs: torch.Tensor, t_new: torch.Tensor) -> torch.Tensor:
        """Decoded means at ``t_new`` (starting at ``t_obs[0]``) from ``z_0``'s posterior mean."""
        t_obs = _check(ys, t_obs, self.obs_dim)
        mu, _ = self.encoder(ys, t_obs).chunk(2, -1)
        return self.decoder(self.ode(mu, torch.as_tensor(t_new, dtype=ys.dtype)).transpose(0, 1))


class _Posterior(nn.Module):
    """Posterior drift ``MLP([z, context])``; ``context`` is set per batch before a solve."""

    def __init__(self, net):
        super().__init__()
        self.net, self.context = net, None

    def forward(self, t, z):
        return self.net(torch.cat([z, self.context], -1))


class _Diagonal(nn.Module):
    """Diagonal diffusion, one small net per latent coordinate, bounded in (0, scale)."""

    def __init__(self, dim: int, hidden: int, scale: float):
        super().__init__()
        self.nets = nn.ModuleList(mlp([1, hidden, 1]) for _ in range(dim))
        self.scale = scale

    def forward(self, t, z):
        return self.scale * torch.sigmoid(torch.cat([n(z[:, i:i + 1]) for i, n in enumerate(self.nets)], -1))


class LatentSDE(_Latent):
    """Encoder -> ``(q(z_0), context)`` -> posterior SDE ``dz = f(z, context) dt + g(z) dW``,
    prior ``dz = h(z) dt + g(z) dW`` -> linear decoder; the ELBO carries the path KL
    (Girsanov) accumulated by the solver (fixed steps, Itô).

    Args:
        context_dim: size of the encoder's context vector for the posterior drift.
        diffusion_scale: upper bound of the diagonal diffusion.
        method, dt, local, seed, max_steps: for :class:`NeuralSDE` (fixed steps, Itô,
            diagonal noise: what the path KL needs).
    """

    def __init__(self, obs_dim: int, latent_dim: int = 4, hidden: int = 32, context_dim: int = 8, layers: int = 2,
                 obs_std: float = 0.01, diffusion_scale: float = 0.5, *, method: str = "euler", dt: float = 1e-2,
                 local: str | None = None, seed: int = 0, max_steps: int = 1_000_000):
        context_dim = check_int("context_dim", context_dim)
        super().__init__(obs_dim, latent_dim, hidden, obs_std, 2 * latent_dim + context_dim)
        layers = check_int("layers", layers)
        diffusion_scale = check_real("diffusion_scale", diffusion_scale, positive=True)
        widths = [hidden] * layers
        self.posterior = _Posterior(mlp([latent_dim + context_dim] + widths + [latent_dim]))
        self.sde = NeuralSDE(self.posterior, _Diagonal(latent_dim, hidden, diffusion_scale),
                             prior_drift=Autonomous(mlp([latent_dim] + widths + [latent_dim])), method=method, dt=dt,
                             local=local, seed=seed, max_steps=max_steps)

    def forward(self, ys: torch.Tensor, t: torch.Tensor) -> LatentOutput:
        t = _check(ys, t, self.obs_dim)
        enc = self.encoder(ys, t)
        mu, logvar, context = enc[:, :self.latent_dim], enc[:, self.latent_dim:2 * self.latent_dim], \
            enc[:, 2 * self.latent_dim:]
        self.posterior.context = context
        z = self.sde(self._sample_z0(mu, logvar), t).transpose(0, 1)
        return LatentOutput(self.decoder(z), z, mu, logvar, self.sde.log_ratio.sum(0))

    @torch.no_grad()
    def sample_prior(self, n: int, t: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """``n`` decoded paths ``(n, T, obs_dim)`` of the prior SDE from ``z_0 ~ N(0, I)``."""
        prior = _PriorSDE(self.sde)
        g = torch.Generator().manual_seed(seed)
        dtype = self.decoder.weight.dtype
        z0 = torch.randn(n, self.latent_dim, generator=g, dtype=dtype)
        z = solve_sde(prior, z0, torch.as_tensor(t, dtype=dtype), method=self.sde.method, dt=self.sde.dt,
                      seed=seed).ys
        return self.decoder(z.transpose(0, 1))


class _PriorSDE:
    noise_type, sde_type = "diagonal", "ito"

    def __init__(self, sde: NeuralSDE):
        self.sde = sde

    def f(self, t, y):
        return self.sde.prior_drift(t, y)

    def g(self, t, y):
        return self.sde.diffusion(t, y)
