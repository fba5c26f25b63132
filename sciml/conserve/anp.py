"""Attentive Neural Process (Kim et al., ICLR 2019), the base model of ProbConserv.

A context set ``(x_c, y_c)`` of a function and target inputs ``x_t`` give a Gaussian
``N(mu(x_t), sigma(x_t)^2)`` per target point, conditioned on a global latent ``z``:

* latent path: ``[x, y] -> linear -> self-attention x 2 -> mean over points -> ReLU linear
  -> (mu_z, log var_z)``: ``q(z | set)``;
* deterministic path: ``[x, y] -> linear -> self-attention x 2`` on the context, then
  two cross-attention blocks with queries ``proj(x_t)`` and keys ``proj(x_c)``: one
  representation ``r(x_t)`` per target;
* decoder: ``[r, z, proj(x_t)] -> 3 ReLU layers -> (mu, sigma = softplus + 1e-3)``.

Attention blocks: multi-head scaled dot-product attention (dropout on the weights),
``[query, attention] -> linear``, a residual connection to the query, LayerNorm.
Training minimises ``-sum log N(y_t | mu, sigma) + KL(q(z | context + target) ||
q(z | context))`` (:meth:`AttentiveNP.loss`); predictions average over latent samples
(:meth:`AttentiveNP.predict`). Sizes default to ProbConserv's: 128 hidden and latent
units, 4 heads, 384-wide decoder.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from sciml.nn import mlp
from sciml.validation import check_int, check_model_input, check_probability

__all__ = ["AttentiveNP", "Attention"]


class Attention(nn.Module):
    """Multi-head attention block: ``LayerNorm(q + W [q, MHA(q, k, v)])``."""

    def __init__(self, hidden: int, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        hidden, heads = check_int("hidden", hidden), check_int("heads", heads)
        dropout = check_probability("dropout", dropout, closed=False)
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be a multiple of heads ({heads})")
        self.heads, self.hidden, self.dropout = heads, hidden, dropout
        self.wq, self.wk, self.wv = (nn.Linear(hidden, hidden, bias=False) for _ in range(3))
        self.out = nn.Linear(2 * hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        for layer in (self.wq, self.wk, self.wv, self.out):
            nn.init.xavier_uniform_(layer.weight)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        b, nq, h = q.shape
        d = h // self.heads

        def split(x):
            return x.view(b, x.shape[1], self.heads, d).transpose(1, 2)

        # written out (not the fused kernel, which has no double backward: SoftC differentiates the
        # residual of the output with respect to the inputs and then the weights)
        weights = torch.softmax(split(self.wq(q)) @ split(self.wk(k)).transpose(-1, -2) / math.sqrt(d), dim=-1)
        if self.dropout and self.training:
            weights = self.drop(weights)
        attn = (weights @ split(self.wv(v))).transpose(1, 2).reshape(b, nq, h)
        return self.norm(q + self.drop(self.out(torch.cat([q, attn], dim=-1))))


class AttentiveNP(nn.Module):
    """Args:
        dim_x, dim_y: input (e.g. ``(t, x)``: 2) and output dimensions.
        hidden: width of the attention paths; latent: dimension of ``z``.
        heads, dropout: of every attention block.
        decoder_width: width of the 3 decoder layers (default ``2 hidden + latent``).
    """

    def __init__(self, dim_x: int = 2, dim_y: int = 1, hidden: int = 128, latent: int = 128, heads: int = 4,
                 dropout: float = 0.1, decoder_width: int | None = None):
        super().__init__()
        dim_x, dim_y = check_int("dim_x", dim_x), check_int("dim_y", dim_y)
        hidden, latent = check_int("hidden", hidden), check_int("latent", latent)
        if decoder_width is not None:
            decoder_width = check_int("decoder_width", decoder_width)
        self.dim_x, self.dim_y, self.latent = dim_x, dim_y, latent
        self.latent_in = nn.Linear(dim_x + dim_y, hidden)
        self.latent_self = nn.ModuleList(Attention(hidden, heads, dropout) for _ in range(2))
        self.latent_hidden = nn.Linear(hidden, hidden)
        self.latent_mu, self.latent_logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.det_in = nn.Linear(dim_x + dim_y, hidden)
        self.det_self = nn.ModuleList(Attention(hidden, heads, dropout) for _ in range(2))
        self.query, self.key = nn.Linear(dim_x, hidden), nn.Linear(dim_x, hidden)
        self.cross = nn.ModuleList(Attention(hidden, heads, dropout) for _ in range(2))
        width = decoder_width or 2 * hidden + latent
        self.target_proj = nn.Linear(dim_x, hidden)
        self.decoder = mlp([2 * hidden + latent, width, width, width, 2 * dim_y], activation="relu")

    # ------------------------------------------------------------------ paths
    def _check_set(self, name: str, v: torch.Tensor, dim: int) -> None:
        check_model_input(f"AttentiveNP ({name})", v, layout=f"(batch, points, {dim})", ndim=3, channels=dim,
                          channel_axis=-1, dtype=self.latent_in.weight.dtype)

    def latent_distribution(self, x: torch.Tensor, y: torch.Tensor) -> torch.distributions.Normal:
        """``q(z | {(x_i, y_i)})`` for sets ``(b, n, dim_x)``, ``(b, n, dim_y)``."""
        self._check_set("x", x, self.dim_x)
        self._check_set("y", y, self.dim_y)
        if x.shape[:2] != y.shape[:2]:
            raise ValueError(f"AttentiveNP: x and y must hold the same (batch, points), got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}")
        h = self.latent_in(torch.cat([x, y], dim=-1))
        for block in self.latent_self:
            h = block(h, h, h)
        h = torch.relu(self.latent_hidden(h.mean(1)))
        return torch.distributions.Normal(self.latent_mu(h), torch.exp(0.5 * self.latent_logvar(h)))

    def deterministic(self, xc: torch.Tensor, yc: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        """``r(x_t)`` ``(b, n_t, hidden)``."""
        h = self.det_in(torch.cat([xc, yc], dim=-1))
        for block in self.det_self:
            h = block(h, h, h)
        q, k = self.query(xt), self.key(xc)
        for block in self.cross:
            q = block(q, k, h)
        return q

    def decode(self, r: torch.Tensor, z: torch.Tensor, xt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` ``(b, n_t, dim_y)`` for one latent ``z`` ``(b, latent)`` per function."""
        z = z.unsqueeze(1).expand(-1, xt.shape[1], -1)
        out = self.decoder(torch.cat([r, z, self.target_proj(xt)], dim=-1))
        mu, raw = out.split(self.dim_y, dim=-1)
        return mu, nn.functional.softplus(raw) + 1e-3

    # ------------------------------------------------------------------ use
    def forward(self, xc, yc, xt, z: torch.Tensor | None = None):
        """``(mu, sigma)`` at ``xt`` with ``z`` (default: a sample from ``q(z | context)``)."""
        self._check_set("xt", xt, self.dim_x)
        if z is None:
            z = self.latent_distribution(xc, yc).rsample()
        return self.decode(self.deterministic(xc, yc, xt), z, xt)

    def loss(self, xc, yc, xt, yt) -> tuple[torch.Tensor, dict]:
        """The negative ELBO per function (batch mean): Gaussian negative log-likelihood
        of the targets summed over points, plus ``KL(q(z | context + target) || q(z | context))``."""
        prior = self.latent_distribution(xc, yc)
        posterior = self.latent_distribution(torch.cat([xc, xt], 1), torch.cat([yc, yt], 1))
        mu, sigma = self.decode(self.deterministic(xc, yc, xt), posterior.rsample(), xt)
        nll = -torch.distributions.Normal(mu, sigma).log_prob(yt).sum((1, 2)).mean()
        kl = torch.distributions.kl_divergence(posterior, prior).sum(-1).mean()
        return nll + kl, {"nll": nll.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def sample_predictions(self, xc, yc, xt, n_samples: int = 100, chunk: int = 20000):
        """Per latent sample ``(mu_s, sigma_s)``, each ``(n_samples, b, n_t, dim_y)``, with
        ``z_s ~ q(z | context)``; targets are decoded in chunks of ``chunk`` points."""
        was = self.training
        self.eval()
        prior = self.latent_distribution(xc, yc)
        mus, sigmas = [], []
        for _ in range(n_samples):
            z = prior.sample()
            parts = [self.decode(self.deterministic(xc, yc, xt[:, i:i + chunk]), z, xt[:, i:i + chunk])
                     for i in range(0, xt.shape[1], chunk)]
            mus.append(torch.cat([p[0] for p in parts], 1))
            sigmas.append(torch.cat([p[1] for p in parts], 1))
        self.train(was)
        return torch.stack(mus), torch.stack(sigmas)
