"""Affine reference diffusions ``dX = (A X + c) dt + sigma dW`` for Schrödinger bridges.

Brownian motion (``A = 0, c = 0``) and the Ornstein–Uhlenbeck family (``c = -A m``) are
the cases the bridges use. Everything is closed form (Gaussian):

* transition over ``dt``: ``X_{t+dt} = Phi X_t + shift + N(0, Q)`` with ``Phi = e^{A dt}``,
  ``shift = int_0^dt e^{A s} ds c`` and ``Q = sigma^2 int_0^dt e^{A s} e^{A^T s} ds``, both
  from one block matrix exponential (Van Loan, IEEE TAC 1978), and exact paths: the
  solver core's :class:`sciml.solvers.LinearSDE`, which this class extends;
* the static-bridge cost ``-log p_dt(y | x)`` up to a constant, ``1/2 (y - mu(x))^T Q^-1
  (y - mu(x))``: entropic OT with this cost and ``reg = 1`` is the static Schrödinger
  bridge (for Brownian motion: squared distances with ``reg = 2 sigma^2 dt``);
* bridges pinned at both ends by Gaussian conditioning (a Kalman update), and the drift
  of the process pinned at its end, ``A x + c + sigma^2 Phi_tau^T Q_tau^-1 (x_u -
  mu_tau(x))``, the regression target of bridge matching;
* the Euler–Maruyama maximum-likelihood refit of ``(A, c)`` on paths, and the refit from
  pairs of snapshots coupled by plans (regression ``x_{k+1} ~ x_k``, then a matrix
  logarithm).

Shapes: states ``(batch, d)``; times are numbers or ``(batch,)`` tensors.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from sciml.solvers import LinearSDE
from sciml.validation import check_real

__all__ = ["AffineReference", "fit_affine_drift", "fit_affine_from_plans"]


class AffineReference(LinearSDE):
    """``dX = (A X + c) dt + sigma dW`` in ``R^d`` with a scalar ``sigma > 0``: the
    closed forms of :class:`sciml.solvers.LinearSDE` (transitions, exact paths) plus the
    bridges pinned at both ends.

    Args:
        drift_matrix: ``A`` ``(d, d)``.
        offset: ``c`` ``(d,)`` (default 0).
        sigma: the diffusion coefficient.
    """

    def bridge_cost(self, x0: torch.Tensor, x1: torch.Tensor, dt: float) -> torch.Tensor:
        """``C_ij = 1/2 (x1_j - mu(x0_i))^T Q^-1 (x1_j - mu(x0_i))`` ``(n0, n1)``:
        ``-log p_dt(x1_j | x0_i)`` up to a constant; entropic OT with it and ``reg = 1`` is
        the static Schrödinger bridge."""
        dt = check_real("dt", dt, positive=True)
        _, _, Q = (m.to(x0) for m in self.transition(dt))
        L = torch.linalg.cholesky(Q)
        a = torch.linalg.solve_triangular(L, self.transition_mean(x0, dt).T, upper=False).T
        b = torch.linalg.solve_triangular(L, x1.T, upper=False).T
        return 0.5 * (a.square().sum(1, keepdim=True) + b.square().sum(1) - 2 * a @ b.T).clamp_min(0)

    def log_det_covariance(self, dt: float) -> float:
        """``log det(2 pi Q_dt)``: the constant that :meth:`bridge_cost` leaves out, twice."""
        _, _, Q = self.transition(dt)
        return float(torch.logdet(2 * np.pi * Q))

    def _pinned(self, t, x_s, s, x_u, u):
        """Mean and a square root of the covariance of ``X_t | X_s = x_s, X_u = x_u``."""
        t, s, u = (torch.as_tensor(v, dtype=x_s.dtype, device=x_s.device) for v in (t, s, u))
        Phi1, m1, Q1 = (m.to(x_s) for m in self.transition(t - s))
        Phi2, m2, Q2 = (m.to(x_s) for m in self.transition(u - t))
        prior = (Phi1 @ x_s.unsqueeze(-1)).squeeze(-1) + m1
        S = Phi2 @ Q1 @ Phi2.transpose(-1, -2) + Q2
        gain = torch.linalg.solve(S, Phi2 @ Q1).transpose(-1, -2)       # Q1 Phi2^T S^-1 (S symmetric)
        residual = x_u - (Phi2 @ prior.unsqueeze(-1)).squeeze(-1) - m2
        mean = prior + (gain @ residual.unsqueeze(-1)).squeeze(-1)
        cov = Q1 - gain @ Phi2 @ Q1
        vals, vecs = torch.linalg.eigh(0.5 * (cov + cov.transpose(-1, -2)))
        return mean, vecs * vals.clamp_min(0).sqrt().unsqueeze(-2)

    def bridge_sample(self, t, x_s: torch.Tensor, s, x_u: torch.Tensor, u,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw of ``X_t`` ``(batch, d)`` of the bridge pinned at ``(s, x_s)`` and
        ``(u, x_u)``, ``s <= t <= u`` (numbers or ``(batch,)`` tensors)."""
        mean, root = self._pinned(t, x_s, s, x_u, u)
        z = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + (root @ z.unsqueeze(-1)).squeeze(-1)

    def bridge_moments(self, t, x_s, s, x_u, u) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean ``(batch, d)`` and covariance ``(..., d, d)`` of the pinned bridge at ``t``."""
        mean, root = self._pinned(t, x_s, s, x_u, u)
        return mean, root @ root.transpose(-1, -2)

    def bridge_drift(self, t, x: torch.Tensor, x_u: torch.Tensor, u) -> torch.Tensor:
        """The drift ``A x + c + sigma^2 Phi_tau^T Q_tau^-1 (x_u - mu_tau(x))`` at ``(t, x)`` of
        the process pinned at ``(u, x_u)``, ``tau = u - t > 0``."""
        tau = torch.as_tensor(u, dtype=x.dtype, device=x.device) - torch.as_tensor(t, dtype=x.dtype, device=x.device)
        Phi, shift, Q = (m.to(x) for m in self.transition(tau))
        residual = x_u - (Phi @ x.unsqueeze(-1)).squeeze(-1) - shift
        pull = Phi.transpose(-1, -2) @ torch.linalg.solve(Q, residual.unsqueeze(-1))
        return self.drift(x) + self.sigma ** 2 * pull.squeeze(-1)

    def fill(self, knots: torch.Tensor, knot_times, substeps: int, generator: torch.Generator | None = None):
        """Paths through ``knots`` ``(batch, K + 1, d)`` at ``knot_times`` with ``substeps``
        bridge points per interval: ``(paths (batch, K substeps + 1, d), times)``."""
        knot_times = torch.as_tensor(knot_times, dtype=knots.dtype, device=knots.device)
        points, times = [knots[:, 0]], [knot_times[:1]]
        for k in range(knots.shape[1] - 1):
            s, u = float(knot_times[k]), float(knot_times[k + 1])
            grid = torch.linspace(s, u, substeps + 1, dtype=knots.dtype, device=knots.device)
            for j in range(1, substeps):   # host-side times: no device reads in the loop
                points.append(self.bridge_sample(s + (u - s) * j / substeps, points[-1],
                                                 s + (u - s) * (j - 1) / substeps, knots[:, k + 1], u, generator))
            points.append(knots[:, k + 1])
            times.append(grid[1:])
        return torch.stack(points, 1), torch.cat(times)


def fit_affine_drift(paths: torch.Tensor, times, sigma: float, intercept: bool = True) -> AffineReference:
    """The Euler–Maruyama maximum-likelihood ``(A, c)`` on ``paths`` ``(batch, T, d)`` at
    ``times`` ``(T,)``: ``min sum_k |dX_k - (A X_k + c) dt_k|^2 / dt_k`` (``sigma`` fixed),
    in closed form. ``intercept=False`` fits ``c = 0``."""
    if paths.dim() != 3:
        raise ValueError(f"paths must be (batch, time, d), got shape {tuple(paths.shape)}")
    times = torch.as_tensor(times, dtype=paths.dtype, device=paths.device)
    dt = torch.diff(times)
    if times.shape != (paths.shape[1],) or not (dt > 0).all():
        raise ValueError("times must be increasing, one per path point")
    x, dx = paths[:, :-1], torch.diff(paths, dim=1)
    design = x if not intercept else torch.cat([x, torch.ones_like(x[..., :1])], -1)
    w = dt.reshape(1, -1, 1)
    gram = (design * w).flatten(0, 1).T @ design.flatten(0, 1)
    moment = design.flatten(0, 1).T @ dx.flatten(0, 1)   # sum dt * D^T (dx / dt)
    theta = torch.linalg.solve(gram, moment)             # (p, d): [A^T; c^T]
    d = paths.shape[-1]
    return AffineReference(theta[:d].T, theta[d] if intercept else None, sigma)


def fit_affine_from_plans(snapshots: list[torch.Tensor], times, plans: list[torch.Tensor], sigma: float,
                          intercept: bool = True) -> AffineReference:
    """``(A, c)`` from snapshot pairs coupled by ``plans``: per interval the plan-weighted
    regression ``x_{k+1} ~ B x_k + b``, then ``[[A, c], [0, 0]] = logm([[B, b], [0, 1]]) / dt_k``,
    averaged over the intervals with weights ``dt_k``."""
    times = [float(t) for t in times]
    d = snapshots[0].shape[1]
    total, weight = np.zeros((d + 1, d + 1)), 0.0
    for k, plan in enumerate(plans):
        x, y, p = (v.to(torch.float64) for v in (snapshots[k], snapshots[k + 1], plan))
        design = torch.cat([x, torch.ones_like(x[:, :1])], 1) if intercept else x
        gram = design.T @ (design * p.sum(1, keepdim=True))
        coef = torch.linalg.solve(gram, design.T @ (p @ y)).T.cpu().numpy()   # (d, d [+1])
        step = np.eye(d + 1)
        step[:d, :coef.shape[1]] = coef
        log = scipy.linalg.logm(step)
        if np.abs(np.imag(log)).max() > 1e-8 * max(1.0, np.abs(log).max()):
            raise RuntimeError(f"the fitted one-interval map of interval {k} has no real logarithm (a negative "
                               "eigenvalue): the snapshots are too far apart for this estimator; use the path "
                               "estimator")
        total += np.real(log)      # dt_k times the interval's estimate of [[A, c], [0, 0]]
        weight += times[k + 1] - times[k]
    total /= weight
    like = snapshots[0]
    A = torch.as_tensor(total[:d, :d], dtype=like.dtype, device=like.device)
    c = torch.as_tensor(total[:d, d], dtype=like.dtype, device=like.device) if intercept else None
    return AffineReference(A, c, sigma)
