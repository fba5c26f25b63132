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

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

__all__ = ["InverseResult", "grid_observation", "invert"]


@dataclass
class InverseResult:
    estimate: torch.Tensor                 # transform(z) at the end
    latent: torch.Tensor                   # z at the end
    history: dict[str, list[float]] = field(default_factory=dict)  # loss, misfit, prior, error per evaluation
    wall_time: float = 0.0
    iterations: int = 0
    evaluations: int = 0                   # forward-and-gradient evaluations (one history entry each)
    stop_reason: str = ""                  # "steps" (Adam) or the L-BFGS reason

    @property
    def error(self) -> float | None:
        errors = self.history.get("error")
        return errors[-1] if errors else None


def grid_observation(stride: int, offset: int = 0, ndim: int = 2) -> Callable[[torch.Tensor], torch.Tensor]:
    """Observe every ``stride``-th grid point (from ``offset``) of the last ``ndim`` axes."""
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1 or not 0 <= offset < stride:
        raise ValueError(f"need an int stride >= 1 and 0 <= offset < stride, got stride={stride!r}, offset={offset!r}")
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

    ``optimizer="adam"`` (``lr``, ``steps`` iterations) or ``"lbfgs"`` (strong-Wolfe line
    search, at most ``steps`` iterations, ``lr`` the initial step). ``truth``: the true
    unknown (in the space of ``transform(z)``), for the ``error`` history (mean relative
    L2). ``callback(i, estimate)`` after each Adam iteration.
    """
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {optimizer!r}")
    if not noise_std > 0 or not prior_weight >= 0:
        raise ValueError(f"need noise_std > 0 and prior_weight >= 0, got {noise_std}, {prior_weight}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    observe = observe or (lambda u: u)
    transform = transform or (lambda z: z)
    z = latent0.detach().clone().requires_grad_(True)
    y = observations.detach()
    history = {"loss": [], "misfit": [], "prior": []}
    if truth is not None:
        history["error"] = []
    evaluations = 0

    def objective():
        nonlocal evaluations
        evaluations += 1
        predicted = observe(forward(transform(z)))
        if predicted.shape != y.shape:
            raise ValueError(f"observe(forward(x)) has shape {tuple(predicted.shape)} but the observations have "
                             f"{tuple(y.shape)}")
        misfit = 0.5 * (predicted - y.to(predicted)).square().sum() / noise_std**2
        prior = 0.5 * prior_weight * z.square().sum()
        return misfit, prior

    def closure():
        opt.zero_grad()
        misfit, prior = objective()
        loss = misfit + prior
        loss.backward()
        for key, value in (("loss", loss), ("misfit", misfit), ("prior", prior)):
            history[key].append(float(value.detach()))
        if truth is not None:
            with torch.no_grad():
                history["error"].append(_relative(transform(z), truth))
        return loss

    start = time.perf_counter()
    if optimizer == "adam":
        opt = torch.optim.Adam([z], lr=lr)
        for i in range(steps):
            opt.step(closure)
            if callback is not None:
                with torch.no_grad():
                    callback(i, transform(z))
        iterations, stop = steps, "steps"
    else:
        from sciml.train.lbfgs import LBFGS

        opt = LBFGS([z], lr=lr, max_iter=steps, tolerance_grad=0.0, tolerance_change=1e-12)
        opt.step(closure)
        iterations, stop = opt.iterations, opt.stop_reason
    wall = time.perf_counter() - start
    with torch.no_grad():
        estimate = transform(z).detach()
    return InverseResult(estimate, z.detach(), history, wall, iterations, evaluations, stop)
