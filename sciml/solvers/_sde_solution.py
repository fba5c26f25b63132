"""What an SDE solve returns: the states at the output times and the counters."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["SDESolution", "SDEStats"]


@dataclass
class SDEStats:
    """Counters of one SDE solve.

    Attributes:
        nfe: evaluations of the pair ``(f, g)`` (Milstein's derivative of ``g`` and
            logqp's prior drift are not counted separately).
        n_steps: accepted steps.
        n_rejected: rejected steps (adaptive stepping only).
        error_sum: ``sum_j |h_j| E_j`` over accepted steps with ``E_j`` the
            step-doubling error estimate (adaptive stepping only); differentiable.
        nfe_backward: drift evaluations of the reversible adjoint's backward pass.
        step_ts: end times of the accepted steps.
    """

    nfe: int = 0
    n_steps: int = 0
    n_rejected: int = 0
    error_sum: torch.Tensor | None = None
    nfe_backward: int = 0
    step_ts: list[float] | None = field(default=None, repr=False)


@dataclass
class SDESolution:
    """Result of :func:`solve_sde`: ``ys`` of shape ``(T, batch, d)``, the log-ratio
    increments ``(T - 1, batch)`` when ``logqp=True``, and stats."""

    ts: torch.Tensor
    ys: torch.Tensor
    log_ratio: torch.Tensor | None
    stats: SDEStats
