"""SDEs driven by fractional noise and their variational posteriors (Daems, Opper,
Crevecoeur & Birdal, ICLR 2024; specs/nde.md Sec. 3).

Prior: ``dX = b(t, X) dt + sigma(t, X) dB^H`` with ``B^H`` the Markov approximation
``sum_k omega_k Y_k`` of :class:`sciml.solvers.MarkovFBM` (type I or II, ``K`` OU
processes per dimension driven by one Brownian motion ``W``), so the augmented state
``(X, Y)`` is Markov. Posterior: a control ``u(t, X, Y, context)`` (one per dimension)
enters every OU channel of its dimension,

    dY_k = (-gamma_k Y_k + u) dt + dW,     dX = [b - sigma sum_k omega_k gamma_k Y_k + sigma (sum_k omega_k) u] dt
                                                + sigma (sum_k omega_k) dW,

so the drift change lies in the range of the diffusion and Girsanov gives
``KL(posterior path || prior path) = E int 1/2 |u|^2 dt``, integrated as an extra state.
Type I's stationary ``Y(0)`` is drawn identically under both measures and adds no KL.

The Hurst index is ``H = sigmoid(raw)`` and may be learned: the weights ``omega(H)`` are
rebuilt from ``H`` on every solve and stay differentiable.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch
from torch import nn

from sciml.solvers import FractionalNoiseSDE, MarkovFBM, exact_fbm_covariance, solve_sde
from sciml.validation import check_choice, check_real, check_seed, check_tensor

__all__ = ["FractionalPaths", "FractionalSDE", "conditional_std", "fractional_ou_covariance", "gaussian_log_likelihood"]


class FractionalPaths(NamedTuple):
    xs: torch.Tensor  # (T, batch, d) the observed process X
    ys: torch.Tensor  # (T, batch, d, K) the OU bank
    kl: torch.Tensor  # (batch,) the path KL int 1/2 |u|^2 dt (0 for prior paths)
    nfe: int  # drift evaluations of the solve


class _Controlled(FractionalNoiseSDE):
    """``FractionalNoiseSDE`` plus the control in every OU channel and the KL state
    (the last entry of the state)."""

    def __init__(self, sde, fbm, control, context):
        super().__init__(sde, fbm)
        self.control, self.context = control, context

    def f(self, t, z):
        base, _ = z[:, :-1], z[:, -1:]
        drift = super().f(t, base)
        if self.control is None:
            return torch.cat([drift, torch.zeros_like(z[:, -1:])], -1)
        x, y = self.split(base)
        u = self.control(t, x, y, self.context)
        d = x.shape[-1]
        sigma = self.sde.g(t, x)
        dx = drift[:, :d] + sigma * self.weights.to(z).sum() * u
        dy = drift[:, d:] + u.repeat_interleave(self.fbm.n_processes, dim=-1)
        return torch.cat([dx, dy, 0.5 * u.square().sum(-1, keepdim=True)], -1)

    def g(self, t, z):
        top = super().g(t, z[:, :-1])
        return torch.cat([top, top.new_zeros(top.shape[0], 1, top.shape[-1])], 1)


class _Parts:
    """``b`` and ``sigma`` as the ``f``/``g`` pair :class:`FractionalNoiseSDE` wraps."""

    noise_type = "diagonal"

    def __init__(self, drift, diffusion, sde_type):
        self.drift, self.diffusion, self.sde_type = drift, diffusion, sde_type

    def f(self, t, x):
        return self.drift(t, x)

    def g(self, t, x):
        return self.diffusion(t, x)


def _stationary_seed(seed: int) -> int:
    """A seed for the type I ``Y(0)`` derived from the Brownian path's ``seed`` (an LCG step,
    so the two draws do not share a random stream)."""
    return (6364136223846793005 * seed + 1442695040888963407) % 2**63


class FractionalSDE(nn.Module):
    """``dX = drift(t, X) dt + diffusion(t, X) dB^H`` (diagonal) and its controlled posterior.

    Args:
        drift, diffusion: ``nn.Module`` s ``(t, x) -> (batch, d)``.
        control: ``nn.Module`` ``(t, x, y, context) -> (batch, d)`` with ``y`` the OU bank
            ``(batch, d, K)``; ``None`` for a prior-only model.
        hurst: initial ``H`` in (0, 1); ``learn_hurst`` makes ``sigmoid^-1(H)`` a parameter.
        n_processes, gamma_max, kind, horizon: of :class:`~sciml.solvers.MarkovFBM` (``kind``
            ``"II"`` by default, as there; type I needs a ``seed`` or ``generator`` in
            :meth:`sample` for its stationary start).
        sde_type: ``"stratonovich"`` (default, as the paper's Stratonovich–Milstein) or
            ``"ito"``; the method defaults to Heun / Euler accordingly.
    """

    def __init__(self, drift: nn.Module, diffusion: nn.Module, control: nn.Module | None = None, hurst: float = 0.5,
                 learn_hurst: bool = True, n_processes: int = 5, gamma_max: float = 20.0, kind: str = "II",
                 horizon: float = 1.0, sde_type: str = "stratonovich", method: str | None = None):
        super().__init__()
        if not 0 < check_real("hurst", hurst) < 1:
            raise ValueError(f"hurst must lie in (0, 1), got {hurst}")
        raw = torch.tensor(math.log(hurst / (1 - hurst)), dtype=torch.float64)
        if learn_hurst:
            self.hurst_raw = nn.Parameter(raw)
        else:
            self.register_buffer("hurst_raw", raw)
        self.drift, self.diffusion, self.control = drift, diffusion, control
        self.n_processes, self.gamma_max, self.kind, self.horizon = n_processes, gamma_max, kind, horizon
        self.sde_type = check_choice("sde_type", sde_type, ("ito", "stratonovich"))
        self.method = method or ("heun" if sde_type == "stratonovich" else "euler")
        self.markov()  # validates the MA-fBM settings now

    @property
    def hurst(self) -> torch.Tensor:
        """``H = sigmoid(raw)`` (0-d float64, differentiable when learned)."""
        return torch.sigmoid(self.hurst_raw)

    def markov(self) -> MarkovFBM:
        """The MA-fBM at the current ``H`` (its weights keep the graph to ``H``)."""
        return MarkovFBM(self.hurst, self.n_processes, self.gamma_max, self.kind, self.horizon)

    def sample(self, x0: torch.Tensor, ts: torch.Tensor, dt: float, posterior: bool = True, context=None,
               seed: int | None = None, generator: torch.Generator | None = None) -> FractionalPaths:
        """Paths at ``ts`` from ``X(ts[0]) = x0`` ``(batch, d)`` with fixed steps ``<= dt``: the
        controlled posterior (``posterior=True``, needs ``control``) or the prior. ``seed``
        selects the Brownian path; ``generator`` the type I stationary ``Y(0)`` (default: a
        generator seeded from ``seed``; type I with neither raises, so no draw comes from the
        global random state)."""
        if posterior and self.control is None:
            raise ValueError("this FractionalSDE has no control: build it with control=... or pass posterior=False")
        check_tensor("x0", x0, ndim=2, floating=True, layout="(batch, d)")
        if self.kind == "I" and generator is None:
            if seed is None:
                raise ValueError("kind='I' draws a stationary Y(0) at random: pass seed= (or generator=) to sample, "
                                 "or use kind='II' (Y(0) = 0)")
            generator = torch.Generator(device=x0.device).manual_seed(_stationary_seed(check_seed("seed", seed)))
        sde = _Controlled(_Parts(self.drift, self.diffusion, self.sde_type), self.markov(),
                          self.control if posterior else None, context)
        z0 = torch.cat([sde.initial_state(x0, generator), x0.new_zeros(x0.shape[0], 1)], -1)
        ts = torch.as_tensor(ts, dtype=x0.dtype, device=x0.device)
        sol = solve_sde(sde, z0, ts, method=self.method, dt=dt, seed=seed)
        d, K = x0.shape[-1], self.n_processes
        zs = sol.ys
        return FractionalPaths(zs[..., :d], zs[..., d:-1].reshape(*zs.shape[:2], d, K), zs[-1, :, -1] - zs[0, :, -1],
                               sol.stats.nfe)


def gaussian_log_likelihood(std: float | torch.Tensor) -> Callable:
    """``log N(obs; x, std^2)`` summed over the last axis: a likelihood for ELBOs."""

    def log_p(x: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        var = torch.as_tensor(std, dtype=x.dtype, device=x.device) ** 2
        return -0.5 * ((obs - x).square() / var + torch.log(2 * math.pi * var)).sum(-1)

    return log_p


def fractional_ou_covariance(ts: torch.Tensor, theta: float, hurst: float, kind: str = "I",
                             refine: int = 50) -> torch.Tensor:
    """Exact covariance ``(n, n)`` (float64) of the fractional OU process
    ``X_t = int_0^t e^{-theta (t - s)} dB^H_s`` (``X_0 = 0``, unit-variance fBM of
    :func:`~sciml.solvers.exact_fbm_covariance`) at times ``ts`` (increasing, from 0).

    By parts, ``X_t = B_t - theta int_0^t e^{-theta (t - s)} B_s ds``: a linear map ``L`` of
    the fBM on a grid refined ``refine`` times between the requested times (trapezoid
    rule), so ``Cov X = L Cov(B) L^T``. ``theta = 0`` is the fBM itself."""
    ts = torch.as_tensor(ts, dtype=torch.float64)
    if ts.dim() != 1 or float(ts[0]) != 0.0 or bool((ts.diff() <= 0).any()):
        raise ValueError("ts must be increasing times starting at 0")
    if theta == 0:
        return exact_fbm_covariance(ts, hurst, kind)
    pieces = [ts[:1]] + [torch.linspace(float(a), float(b), refine + 1, dtype=torch.float64)[1:]
                         for a, b in zip(ts[:-1], ts[1:])]
    fine = torch.cat(pieces)
    h = fine.diff()
    n = fine.numel()
    # trapezoid weights of int_0^{t_i} e^{-theta (t_i - s)} B_s ds on the fine grid
    L = torch.eye(n, dtype=torch.float64)
    for i in range(1, n):
        kernel = torch.exp(-theta * (fine[i] - fine[: i + 1]))
        w = torch.zeros(i + 1, dtype=torch.float64)
        w[:-1] += 0.5 * h[:i]
        w[1:] += 0.5 * h[:i]
        L[i, : i + 1] -= theta * kernel * w
    cov = L @ exact_fbm_covariance(fine, hurst, kind) @ L.T
    keep = torch.arange(0, n, refine)
    return cov[keep][:, keep]


def conditional_std(cov: torch.Tensor, index: int, noise_std: float) -> torch.Tensor:
    """Posterior standard deviations ``(n,)`` of a zero-mean Gaussian vector with
    covariance ``cov`` given one noisy observation of entry ``index`` (noise
    ``noise_std``): ``sqrt(C_tt - C_t,i^2 / (C_ii + noise_std^2))``."""
    var = cov.diagonal() - cov[:, index] ** 2 / (cov[index, index] + noise_std ** 2)
    return var.clamp_min(0).sqrt()
