"""Runtime guards of the stepping loops: a fixed-step solution that blows up, and an
adaptive explicit solve whose step is pinned by stiffness.

Fixed steps (ODE): the last step of each output interval, from ``y_a`` with
derivative ``k_a = f(t_a, y_a)`` to ``y_b``, is unstable when (max norms over the state)::

    |y_b| > |y_a| > 0,    h |k_a| > S |y_a|,    |y_b| > 1000 |y_0|

with ``S`` the method's real stability interval (``|R(-S)| = 1``): the state grows
by a thousand in a step whose ``h |f| / |y|``, an estimate of ``h |lambda|`` for the
dominant mode, lies outside the stability interval. A non-finite state is always an
error. Both are decided on device and read once per solve.

Adaptive steps (per sample: the same test at every step, on counters per sample):
Hairer's stiffness test of DOPRI5 (Hairer & Wanner, Solving ODEs II,
Sec. IV.2): every ``EVERY`` accepted steps, and at each step while a test is under
way, ``h S_j`` (``S_j`` the stiffness estimate of ``_rk.stiffness_estimate``) is
compared with ``0.98 S``; ``RUN`` consecutive accepted steps above it mean the step is
limited by stability, not accuracy, and ``CALM`` steps below end the run.
"""

from __future__ import annotations

import torch

from ._tableau import ButcherTableau

__all__ = ["StiffnessMonitor", "step_is_unstable", "stiff_runs", "unstable_outputs"]

EVERY = 100
RUN = 15
CALM = 6
GROWTH = 1e3


class StiffnessMonitor:
    """The stiffness test of the module docstring for one shared step size."""

    def __init__(self, tab: ButcherTableau):
        usable = tab.stiffness_pair is not None and tab.stability_size is not None
        self.limit = 0.98 * tab.stability_size if usable else None
        self.run, self.calm = 0, 0

    def wanted(self, n_accepted: int) -> bool:
        """Whether the step after ``n_accepted`` accepted steps takes part in a test."""
        return self.limit is not None and (n_accepted % EVERY == 0 or self.run > 0)

    def stiff_after(self, h_rho: float) -> bool:
        """Record an accepted step with ``h S_j = h_rho``; ``True`` once ``RUN``
        consecutive steps were stability-limited."""
        if h_rho > self.limit:
            self.run, self.calm = self.run + 1, 0
        else:
            self.calm += 1
            if self.calm >= CALM:
                self.run, self.calm = 0, 0
        return self.run >= RUN


def stiff_runs(run: torch.Tensor, calm: torch.Tensor, accepted: torch.Tensor, h_rho: torch.Tensor, limit: float):
    """The monitor's counters per sample (tensors of shape ``(batch,)``), updated on the
    accepted steps; tested at every step. Returns ``(run, calm)``."""
    held = accepted & (h_rho > limit)
    calm = torch.where(held, 0, torch.where(accepted, calm + 1, calm))
    run = torch.where(held, run + 1, torch.where(calm >= CALM, 0, run))
    return run, torch.where(calm >= CALM, 0, calm)


def step_is_unstable(y_a: torch.Tensor, k_a: torch.Tensor, y_b: torch.Tensor, h: float, y0_max: torch.Tensor,
                     stability: float) -> torch.Tensor:
    """The fixed-step test of the module docstring for one step, a 0-d bool tensor
    (no synchronisation)."""
    a, b, k = y_a.detach().abs().amax(), y_b.detach().abs().amax(), k_a.detach().abs().amax()
    grew = (b > a) & (a > 0) & (abs(h) * k > stability * a) & (b > GROWTH * y0_max)
    return grew | ~torch.isfinite(y_b.detach()).all()


def unstable_outputs(flags: list[torch.Tensor]) -> int | None:
    """The first output interval whose flag is set, or ``None`` (one synchronisation)."""
    if not flags:
        return None
    bad = torch.stack(flags)
    if not bool(bad.any()):
        return None
    return int(bad.nonzero()[0])
