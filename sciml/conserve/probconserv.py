"""ProbConserv with an Attentive Neural Process: training (plain and SoftC), predictive
moments with the conservation update, metrics and shock-position estimates.

Predictive moments: ``S`` latent samples ``z_s ~ q(z | context)`` give Gaussians
``N(mu_s, diag sigma_s^2)`` on the evaluation grid; with a constraint each is updated per
time slice (:func:`~sciml.conserve.conservation_update`), and the mixture is summarised
by the law of total (co)variance: mean ``E_s[mu~_s]``, covariance ``E_s[Sigma~_s] +
Cov_s[mu~_s]``. Every ``mu~_s`` satisfies ``G mu~_s = b``, so the summary does too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sciml.problems import ConservationLawProblem, check_problem
from sciml.train import Trainer

from .anp import AttentiveNP
from .constraint import ConservationConstraint, periodic_weights, trapezoid_weights

__all__ = ["Prediction", "conservation_error", "log_likelihood", "predict", "shock_positions", "softc_objective",
           "train_anp"]

MODES = ("anp", "hardc", "probconserv")


@dataclass
class Prediction:
    """Moments on a grid: ``mean`` and ``var`` ``(n_t, n_x)``; ``cov`` ``(n_t, n_x, n_x)``
    when asked for (float64)."""

    mean: torch.Tensor
    var: torch.Tensor
    cov: torch.Tensor | None = None


def anp_objective(model, batch):
    return model.loss(batch["xc"], batch["yc"], batch["xt"], batch["yt"])


def softc_objective(problem: ConservationLawProblem, weight: float = 1.0):
    """The SoftC-ANP objective: the ANP loss plus ``weight * mean(r^2)``, ``r`` the PDE
    residual (``problem.residual``, by autograd) of the predicted mean at the target
    points, with one latent sample from ``q(z | context)``."""
    check_problem("softc_objective", problem, ConservationLawProblem)

    def objective(model, batch):
        loss, terms = anp_objective(model, batch)
        xc, yc, xt = batch["xc"], batch["yc"], batch["xt"]
        z = model.latent_distribution(xc, yc).rsample()

        def mean_fn(t, x):
            pts = torch.stack([t, x], -1)
            return model.decode(model.deterministic(xc, yc, pts), z, pts)[0].squeeze(-1)

        r = problem.residual(mean_fn, batch["param"], xt[..., 0], xt[..., 1])
        penalty = r.square().mean()
        return loss + weight * penalty, {**terms, "residual": penalty.detach()}

    return objective


def train_anp(model: AttentiveNP, train_set, *, epochs: int = 50, batch_size: int = 250, lr: float = 1e-4,
              objective=None, seed: int = 0, progress: bool = True, device=None) -> Trainer:
    """Fit ``model`` through :class:`~sciml.train.Trainer` on context/target items (Adam,
    ``lr`` 1e-4 as the reference). ``objective`` defaults to the ANP's negative ELBO;
    pass :func:`softc_objective` for SoftC. ``seed`` orders the batches, ``progress``
    shows the bar, ``device`` (default: the model's) runs the training. Returns the Trainer."""
    trainer = Trainer(model, objective=objective or anp_objective, max_epochs=epochs, batch_size=batch_size,
                      optimizer=lambda p: torch.optim.Adam(p, lr=lr), seed=seed, progress=progress, device=device)
    trainer.fit(train_set)
    return trainer


def predict(model: AttentiveNP, xc: torch.Tensor, yc: torch.Tensor, t: torch.Tensor, x: torch.Tensor, *,
            mode: str = "anp", constraint: ConservationConstraint | None = None, n_samples: int = 100,
            noise_var: float = 0.0, full_covariance: bool = False, seed: int = 0) -> Prediction:
    """Moments of one function's prediction on the grid ``t`` ``(n_t,)`` x ``x`` ``(n_x,)``
    (sorted) from its context ``xc`` ``(n_c, 2)``, ``yc`` ``(n_c, 1)``.

    ``mode``: ``"anp"`` (unconstrained), ``"probconserv"`` (the update with ``noise_var``;
    0 is exact) or ``"hardc"`` (projection of each sample's mean); the last two need
    ``constraint``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode != "anp" and constraint is None:
        raise ValueError(f"mode {mode!r} needs a ConservationConstraint")
    t64, x64 = torch.as_tensor(t, dtype=torch.float64), torch.as_tensor(x, dtype=torch.float64)
    n_t, n_x = len(t64), len(x64)
    grid = torch.stack(torch.meshgrid(t64, x64, indexing="ij"), -1).reshape(1, -1, 2)
    param = next(model.parameters())
    torch.manual_seed(seed)
    mu, sigma = model.sample_predictions(xc[None].to(param), yc[None].to(param), grid.to(param), n_samples)
    mu = mu.reshape(n_samples, n_t, n_x).double()
    var = sigma.reshape(n_samples, n_t, n_x).double() ** 2
    cov_s = None
    if mode != "anp":
        mu, out = constraint.apply(mu, var, t64, x64, noise_var=noise_var, mode=mode, full_covariance=full_covariance)
        if full_covariance:
            cov_s = out
            var = torch.diagonal(out, dim1=-2, dim2=-1)
        else:
            var = out
    mean = mu.mean(0)
    spread = mu - mean
    total_var = var.mean(0) + spread.square().mean(0)
    cov = None
    if full_covariance:
        within = cov_s.mean(0) if cov_s is not None else torch.diag_embed(var.mean(0))
        cov = within + torch.einsum("sti,stj->tij", spread, spread) / n_samples
    return Prediction(mean, total_var, cov)


def conservation_error(mean: torch.Tensor, x: torch.Tensor, b: torch.Tensor, period: float | None = None
                       ) -> torch.Tensor:
    """Signed ``quadrature(mean) - b`` per time slice (``mean`` ``(..., n_x)``): the trapezoid
    rule on ``[x_0, x_{n-1}]``, or on the circle for a periodic grid of ``period`` without
    its endpoint (:class:`ConservationConstraint`'s rules)."""
    w = trapezoid_weights(x) if period is None else periodic_weights(x, period)
    return (w * mean.to(torch.float64)).sum(-1) - torch.as_tensor(b, dtype=torch.float64)


def log_likelihood(mean: torch.Tensor, var: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian log-density of ``truth`` under ``N(mean, var)`` per point."""
    var = var.clamp_min(1e-30)
    return (-0.5 * (math.log(2 * math.pi) + var.log() + (truth - mean) ** 2 / var)).mean()


def shock_positions(mean: torch.Tensor, cov: torch.Tensor, x: torch.Tensor, n_samples: int = 500,
                    threshold: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Front positions of ``n_samples`` draws from ``N(mean, cov)`` on nodes ``x`` ``(n_x,)``:
    the first node where a draw is ``<= threshold`` (``x[-1]`` when none is). Cholesky
    with jitter ``1e-8`` (growing tenfold until it factorises, at most to 1% of the largest
    variance; a covariance that still fails is not one, and raises)."""
    mean, cov = mean.to(torch.float64), cov.to(torch.float64)
    if not bool(torch.isfinite(mean).all() & torch.isfinite(cov).all()):
        raise ValueError("shock_positions: mean and cov must be finite (they contain NaN or Inf)")
    eye = torch.eye(len(mean), dtype=torch.float64)
    ceiling = max(1e-2 * float(cov.diagonal().abs().max()), 1e-6)
    jitter, chol = 1e-8, None
    while chol is None:
        chol, info = torch.linalg.cholesky_ex(cov + jitter * eye)
        if int(info) != 0:
            if jitter > ceiling:
                raise ValueError(f"shock_positions: cov is not positive semi-definite (Cholesky fails with jitter "
                                 f"{jitter:.1e}); pass a covariance matrix")
            chol, jitter = None, jitter * 10
    g = torch.Generator().manual_seed(seed)
    draws = mean + torch.randn(n_samples, len(mean), generator=g, dtype=torch.float64) @ chol.T
    below = draws <= threshold
    first = torch.where(below.any(1), below.float().argmax(1), torch.full((n_samples,), len(mean) - 1))
    return torch.as_tensor(x, dtype=torch.float64)[first]
