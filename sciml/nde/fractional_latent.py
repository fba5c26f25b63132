"""A latent SDE driven by fractional noise for sequences (Daems et al., ICLR 2024).

Observations ``ys`` ``(batch, T, obs_dim)`` at shared times ``t`` ``(T,)``:

* encoder: a GRU run backwards in time over ``[y_i, t_{i+1} - t_i]``; its output at
  observation ``i`` summarises ``y_i .. y_{T-1}`` and becomes the context ``h_i``, linearly
  interpolated in time for the control (the paper's ``h(t)``); its output at ``t_0``
  gives ``q(x_0)`` (or ``x_0 = 0`` with ``learn_x0=False``);
* latent dynamics: :class:`FractionalSDE` with prior ``dX = b(X) dt + sigma(X) dB^H`` and
  the posterior control ``u(t, X, Y, h(t))`` (zero-initialised last layer, so posterior =
  prior at the start);
* decoder: linear, or the identity (``decoder="identity"``, the latent is observed);
* likelihood: Gaussian with a fixed (or learnable, ``learn_obs_std``) std, or any
  ``log_likelihood(x_decoded, obs) -> (batch, T)``.

``loss(ys, t)`` is the negative ELBO per series, ``-E_q sum_i log p(y_i | X_{t_i}) +
beta (KL(q(x_0) || N(0, I)) + E_q int 1/2 |u|^2 dt)``, with its terms.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from sciml.nn import mlp
from sciml.validation import check_int, check_real

from .fractional import FractionalSDE
from .latent import Autonomous

__all__ = ["ConstantDiffusion", "LatentFractionalSDE", "LinearDrift", "interpolate"]


def interpolate(t_obs: torch.Tensor, values: torch.Tensor, t) -> torch.Tensor:
    """Piecewise-linear interpolation in time of ``values`` ``(batch, T, C)`` given at
    ``t_obs`` ``(T,)``, at the scalar time ``t`` (held constant outside ``t_obs``). Tensor
    operations only: no host synchronisation inside the solver's step loop."""
    if len(t_obs) == 1:
        return values[:, 0]
    t = torch.as_tensor(t, dtype=t_obs.dtype, device=t_obs.device).reshape(1)
    i = (torch.searchsorted(t_obs, t, right=True) - 1).clamp(0, len(t_obs) - 2)
    lo, hi = t_obs.index_select(0, i), t_obs.index_select(0, i + 1)
    w = ((t - lo) / (hi - lo)).clamp(0, 1).to(values.dtype)
    return (1 - w) * values.index_select(1, i)[:, 0] + w * values.index_select(1, i + 1)[:, 0]


class LinearDrift(nn.Module):
    """``b(x) = -theta x`` (an OU prior), ``theta`` learnable per dimension."""

    def __init__(self, dim: int, theta: float = 1.0):
        super().__init__()
        self.theta = nn.Parameter(torch.full((dim,), float(theta)))

    def forward(self, t, x):
        return -self.theta.to(x) * x


class ConstantDiffusion(nn.Module):
    """``sigma = softplus(raw)`` per dimension, learnable."""

    def __init__(self, dim: int, sigma: float = 1.0):
        super().__init__()
        self.raw = nn.Parameter(torch.full((dim,), math.log(math.expm1(sigma))))

    def forward(self, t, x):
        return nn.functional.softplus(self.raw).to(x).expand_as(x)


class _Control(nn.Module):
    def __init__(self, latent_dim, n_processes, context_dim, hidden):
        super().__init__()
        self.net = mlp([latent_dim * (n_processes + 1) + context_dim, hidden, hidden, latent_dim])
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, t, x, y, context):
        t_obs, h = context
        return self.net(torch.cat([x, y.flatten(1), interpolate(t_obs, h, t).to(x)], -1))


class _PerDimension(nn.Module):
    """Diagonal diffusion, one small softplus net per latent coordinate (the paper's)."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.nets = nn.ModuleList(mlp([1, hidden, 1]) for _ in range(dim))

    def forward(self, t, x):
        return nn.functional.softplus(torch.cat([n(x[:, i:i + 1]) for i, n in enumerate(self.nets)], -1))


class LatentFractionalSDE(nn.Module):
    """Encoder -> ``q(x_0)`` and context ``h(t)`` -> MA-fBM latent SDE -> decoder.

    Args:
        obs_dim, latent_dim, hidden, context_dim: sizes.
        drift, diffusion: ``nn.Module`` s ``(t, x) -> (batch, latent_dim)``; default an
            MLP on ``x`` and per-dimension softplus nets.
        hurst, learn_hurst, n_processes, gamma_max, kind, horizon: of :class:`FractionalSDE`
            (``learn_hurst=False, hurst=0.5`` is the Brownian-noise baseline).
        dt: the solver step (``gamma_max dt < 0.5``).
        decoder: ``"linear"``, ``"identity"`` (needs ``obs_dim == latent_dim``) or an
            ``nn.Module`` mapping ``(N, latent_dim)`` to one observation ``(N, *shape)``.
        frame_encoder: optional ``nn.Module`` mapping one observation ``(N, *shape)`` to
            ``(N, obs_dim)`` features for the GRU (image sequences: ``ys`` is then
            ``(batch, T, *shape)``; see :mod:`sciml.nde.video`).
        obs_std, learn_obs_std: the Gaussian likelihood's std; ``log_likelihood`` replaces it.
        learn_x0: infer ``q(x_0)`` (else ``x_0 = 0``, no KL).
    """

    def __init__(self, obs_dim: int, latent_dim: int = 4, hidden: int = 64, context_dim: int = 16,
                 drift: nn.Module | None = None, diffusion: nn.Module | None = None, hurst: float = 0.5,
                 learn_hurst: bool = True, n_processes: int = 5, gamma_max: float = 20.0, kind: str = "II",
                 horizon: float = 1.0, dt: float = 0.02, decoder: str = "linear", obs_std: float = 0.1,
                 learn_obs_std: bool = False, log_likelihood: Callable | None = None, learn_x0: bool = True,
                 sde_type: str = "ito", frame_encoder: nn.Module | None = None):
        super().__init__()
        if not isinstance(decoder, nn.Module) and decoder not in ("linear", "identity"):
            raise ValueError(f"decoder must be 'linear', 'identity' or an nn.Module, got {decoder!r}")
        if decoder == "identity" and obs_dim != latent_dim:
            raise ValueError(f"an identity decoder needs obs_dim == latent_dim, got {obs_dim} and {latent_dim}")
        obs_std = check_real("obs_std", obs_std, positive=True)
        obs_dim, latent_dim = check_int("obs_dim", obs_dim), check_int("latent_dim", latent_dim)
        hidden, context_dim = check_int("hidden", hidden), check_int("context_dim", context_dim)
        dt = check_real("dt", dt, positive=True)
        self.obs_dim, self.latent_dim, self.dt, self.learn_x0 = obs_dim, latent_dim, dt, learn_x0
        self.gru = nn.GRU(obs_dim + 1, hidden, batch_first=True)
        self.to_context = nn.Linear(hidden, context_dim)
        self.to_x0 = nn.Linear(hidden, 2 * latent_dim) if learn_x0 else None
        drift = drift if drift is not None else Autonomous(mlp([latent_dim, hidden, hidden, latent_dim]))
        diffusion = diffusion if diffusion is not None else _PerDimension(latent_dim, 16)
        self.sde = FractionalSDE(drift, diffusion, _Control(latent_dim, n_processes, context_dim, hidden), hurst,
                                 learn_hurst, n_processes, gamma_max, kind, horizon, sde_type)
        self.sde.markov().check_step(dt)
        if isinstance(decoder, nn.Module):
            self.decoder = decoder
        else:
            self.decoder = nn.Linear(latent_dim, obs_dim) if decoder == "linear" else nn.Identity()
        self.frame_encoder = frame_encoder
        log_std = torch.tensor(math.log(obs_std))
        if learn_obs_std:
            self.log_obs_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_obs_std", log_std)
        self.log_likelihood = log_likelihood

    @property
    def hurst(self) -> torch.Tensor:
        return self.sde.hurst

    def encode(self, ys: torch.Tensor, t: torch.Tensor):
        """``(context (batch, T, C), mu, logvar)`` (``mu, logvar`` ``None`` without ``learn_x0``)."""
        if self.frame_encoder is not None:
            ys = self.frame_encoder(ys.flatten(0, 1)).view(*ys.shape[:2], -1)
        gaps = torch.cat([t.diff(), t.new_zeros(1)]).view(1, -1, 1).expand(ys.shape[0], -1, 1)
        out, _ = self.gru(torch.cat([ys, gaps.to(ys)], -1).flip(1))
        out = out.flip(1)  # out[:, i] has read y_i .. y_{T-1}
        context = self.to_context(out)
        if not self.learn_x0:
            return context, None, None
        mu, logvar = self.to_x0(out[:, 0]).chunk(2, -1)
        return context, mu, logvar

    def _decode(self, z: torch.Tensor) -> torch.Tensor:
        """``(batch, T, latent)`` -> ``(batch, T, *observation)``."""
        out = self.decoder(z.flatten(0, 1))
        return out.view(*z.shape[:2], *out.shape[1:])

    def _check(self, ys, t):
        if self.frame_encoder is not None:
            if ys.dim() < 3:
                raise ValueError(f"ys must have shape (batch, T, *frame), got {tuple(ys.shape)}")
        elif ys.dim() != 3 or ys.shape[-1] != self.obs_dim:
            raise ValueError(f"ys must have shape (batch, T, {self.obs_dim}), got {tuple(ys.shape)}")
        t = torch.as_tensor(t, dtype=ys.dtype, device=ys.device)
        if t.shape != (ys.shape[1],):
            raise ValueError(f"t must have shape ({ys.shape[1]},) to match ys, got {tuple(t.shape)}")
        return t

    def forward(self, ys: torch.Tensor, t: torch.Tensor, seed: int | None = None):
        """Posterior paths for ``ys``: ``(decoded (batch, T, obs_dim), paths, mu, logvar)``."""
        t = self._check(ys, t)
        context, mu, logvar = self.encode(ys, t)
        if self.learn_x0:
            x0 = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if self.training else mu
        else:
            x0 = ys.new_zeros(ys.shape[0], self.latent_dim)
        paths = self.sde.sample(x0, t, self.dt, posterior=True, context=(t, context), seed=seed)
        return self._decode(paths.xs.transpose(0, 1)), paths, mu, logvar

    def loss(self, ys: torch.Tensor, t: torch.Tensor, kl_weight: float = 1.0, seed: int | None = None):
        """``(negative ELBO per series, {"nll", "kl_x0", "kl_path", "mse", "hurst"})``."""
        decoded, paths, mu, logvar = self(ys, t, seed)
        if self.log_likelihood is not None:
            nll = -self.log_likelihood(decoded, ys).sum(-1).mean()
        else:
            var = torch.exp(2 * self.log_obs_std).to(ys)
            nll = 0.5 * ((ys - decoded).square() / var + torch.log(2 * math.pi * var)).flatten(1).sum(1).mean()
        kl0 = (0.5 * (mu.square() + logvar.exp() - 1 - logvar).sum(1).mean() if self.learn_x0
               else ys.new_zeros(()))
        kl_path = paths.kl.mean()
        loss = nll + kl_weight * (kl0 + kl_path)
        return loss, {"nll": nll.detach(), "kl_x0": kl0.detach(), "kl_path": kl_path.detach(),
                      "mse": (ys - decoded).square().mean().detach(), "hurst": self.hurst.detach()}

    @torch.no_grad()
    def sample_prior(self, n: int, t: torch.Tensor, seed: int = 0) -> torch.Tensor:
        """``n`` decoded prior paths ``(n, T, obs_dim)`` from ``x_0 ~ N(0, I)`` (or 0)."""
        g = torch.Generator().manual_seed(seed)
        dtype = self.to_context.weight.dtype
        x0 = (torch.randn(n, self.latent_dim, generator=g, dtype=dtype) if self.learn_x0
              else torch.zeros(n, self.latent_dim, dtype=dtype))
        paths = self.sde.sample(x0, torch.as_tensor(t, dtype=dtype), self.dt, posterior=False, seed=seed, generator=g)
        return self._decode(paths.xs.transpose(0, 1))

