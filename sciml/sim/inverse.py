"""Inverse problems by gradient descent through a differentiable forward map.

The unknown (a coefficient field, an initial condition) is written ``x = transform(z)``
with a latent ``z`` (e.g. the white noise of a Gaussian-random-field prior,
:func:`sciml.pde.grf_from_noise`, and a squashing map for bounded coefficients). With
observations ``y = observe(forward(x)) + noise`` the maximum-a-posteriori estimate
minimises

    J(z) = |observe(forward(transform(z))) - y|^2 / (2 noise_std^2) + prior_weight |z|^2 / 2,

summed over the batch (independent problems solved together). ``forward`` can be the
problem's differentiable solver (``Darcy.solve``: one adjoint solve per gradient; a
Navier–Stokes rollout: backpropagation through the time steps) or a trained operator
as a surrogate; :func:`invert` records the misfit, the prior term, the error to the
truth when given, and the wall time, so the two are compared on the same footing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from sciml.train.optimize import METHODS, minimize
from sciml.validation import check_callable, check_choice, check_int, check_real, check_tensor

__all__ = ["InverseResult", "grid_observation", "invert"]


@dataclass
class InverseResult:
    estimate: torch.Tensor                 # transform(z) at the end
    latent: torch.Tensor                   # z at the end
    history: dict[str, list[float]] = field(default_factory=dict)  # loss, misfit, prior, error per evaluation
    wall_time: float = 0.0
    iterations: int = 0
    evaluations: int = 0                   # evaluations of J (one history entry each)
    stop_reason: str = ""                  # see sciml.train.minimize: "max_iter" when the steps ran out

    @property
    def error(self) -> float | None:
        errors = self.history.get("error")
        return errors[-1] if errors else None


def grid_observation(stride: int, offset: int = 0, ndim: int = 2) -> Callable[[torch.Tensor], torch.Tensor]:
    """Observe every ``stride``-th grid point (from ``offset``) of the last ``ndim`` axes."""
    stride = check_int("stride", stride)
    offset = check_int("offset", offset, minimum=0, maximum=stride - 1)
    ndim = check_int("ndim", ndim)
    index = (Ellipsis, *(slice(offset, None, stride),) * ndim)
    return lambda u: u[index]


def _relative(x: torch.Tensor, truth: torch.Tensor) -> float:
    x, truth = x.detach().flatten(1), truth.flatten(1).to(x)
    return float(((x - truth).norm(dim=1) / truth.norm(dim=1).clamp_min(1e-30)).mean())


def invert(forward: Callable, observations: torch.Tensor, latent0: torch.Tensor, *,
           observe: Callable | None = None, transform: Callable | None = None, noise_std: float = 1.0,
           prior_weight: float = 1.0, truth: torch.Tensor | None = None, steps: int = 200, lr: float = 0.05,
           optimizer: str = "adam", callback: Callable | None = None) -> InverseResult:
    """Minimise ``J(z)`` (module doc) from ``latent0``.

    The optimisation is :func:`sciml.train.minimize`: ``optimizer="adam"`` (``lr``,
    ``steps`` iterations) or ``"lbfgs"`` (strong-Wolfe line search, at most ``steps``
    iterations, ``lr`` the initial step), both stopping early when ``J`` changes by less
    than 1e-12. ``truth``: the true unknown (in the space of ``transform(z)``), for the
    ``error`` history (mean relative L2). ``callback(i, estimate)`` after each Adam
    iteration (Adam only). The history has one entry per evaluation of ``J``; with
    Adam the last one is at the returned estimate.
    """
    optimizer = check_choice("optimizer", optimizer, METHODS)
    check_callable("forward", forward, "forward(x) -> prediction")
    for name, fn in (("observe", observe), ("transform", transform), ("callback", callback)):
        if fn is not None:
            check_callable(name, fn)
    check_tensor("observations", observations, floating=True, finite=True)
    check_tensor("latent0", latent0, floating=True, finite=True)
    if truth is not None:
        check_tensor("truth", truth, finite=True)
    noise_std = check_real("noise_std", noise_std, positive=True)
    prior_weight = check_real("prior_weight", prior_weight, nonnegative=True)
    observe = observe or (lambda u: u)
    transform = transform or (lambda z: z)
    z = latent0.detach().clone().requires_grad_(True)
    y = observations.detach()
    history = {"misfit": [], "prior": []}
    if truth is not None:
        history["error"] = []

    def objective():
        predicted = observe(forward(transform(z)))
        if predicted.shape != y.shape:
            raise ValueError(f"observe(forward(x)) has shape {tuple(predicted.shape)} but the observations have "
                             f"{tuple(y.shape)}")
        misfit = 0.5 * (predicted - y.to(predicted)).square().sum() / noise_std**2
        prior = 0.5 * prior_weight * z.square().sum()
        history["misfit"].append(float(misfit.detach()))
        history["prior"].append(float(prior.detach()))
        if truth is not None:
            with torch.no_grad():
                history["error"].append(_relative(transform(z), truth))
        return misfit + prior

    def report(step, loss):
        with torch.no_grad():
            callback(step, transform(z))

    run = minimize(objective, [z], method=optimizer, steps=steps, lr=lr, tolerance_change=1e-12,
                   callback=None if callback is None else report)
    with torch.no_grad():
        estimate = transform(z).detach()
    return InverseResult(estimate, z.detach(), {"loss": run.history, **history}, run.wall_time, run.iterations,
                         run.evaluations, run.stop_reason)
