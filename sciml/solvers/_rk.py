"""One explicit Runge--Kutta step for any tableau, its error and stiffness
estimates, and its dense output.

Working states are flat: ``(N,)`` with a Python-float step ``h`` shared by the
batch, or ``(batch, D)`` with a per-sample step ``h`` of shape ``(batch, 1)``.
Stage derivatives are stacked on the last axis, ``K`` of shape ``(N, s)`` or
``(batch, D, s)``, so every linear combination of stages is one matrix-vector
product.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Union

import torch

from ._tableau import ButcherTableau

Step = Union[float, torch.Tensor]


class RKStep(NamedTuple):
    y1: torch.Tensor  # solution at t + h
    K: torch.Tensor  # stage derivatives stacked on the last axis
    error: torch.Tensor | None  # embedded error estimate h * K @ (b - b_hat)
    stages: list  # stage states g_i (g_0 = y)


def lincomb(y: torch.Tensor, K: torch.Tensor, coeffs: torch.Tensor, h: Step) -> torch.Tensor:
    """``y + h * K @ coeffs`` for a shared (float) or per-sample (tensor) step."""
    if isinstance(h, float):
        if K.dim() == 2:
            return torch.addmv(y, K, coeffs, alpha=h)
        return torch.add(y, K @ coeffs, alpha=h)
    return torch.addcmul(y, h, K @ coeffs)


def rk_step(
    tab: ButcherTableau,
    f: Callable,
    y: torch.Tensor,
    h: Step,
    k1: torch.Tensor,
    time_of: Callable[[float], torch.Tensor],
) -> RKStep:
    """Take one step of ``tab`` from ``y`` with first-stage derivative ``k1``.

    ``time_of(c)`` returns the time tensor ``t + c h`` passed to ``f``.
    """
    coef = tab.tensors(y.dtype, y.device)
    c, a = coef["c"], coef["a"]
    ks = [k1]
    stages = [y]
    for i in range(1, tab.stages):
        g = lincomb(y, torch.stack(ks, dim=-1), a[i], h)
        ks.append(f(time_of(c[i]), g))
        stages.append(g)
    K = torch.stack(ks, dim=-1)
    y1 = stages[-1] if tab.fsal else lincomb(y, K, coef["b"], h)
    error = None
    if coef["e"] is not None:
        error = K @ coef["e"]
        error = error * h
    return RKStep(y1, K, error, stages)


def scaled_error(
    error: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor, rtol: float, atol: float,
    components: int | None = None,
) -> torch.Tensor:
    """``E = RMS(err / (atol + rtol * max(|y0|, |y1|)))`` over the last axis.

    ``components`` restricts the norm to the first entries (the seminorm used by
    the adjoint, which leaves out parameter gradients).
    """
    if components is not None:
        error, y0, y1 = error[..., :components], y0[..., :components], y1[..., :components]
    scale = torch.maximum(y0.abs(), y1.abs()).mul_(rtol).add_(atol)
    ratio = error / scale
    return torch.linalg.vector_norm(ratio, dim=-1) * (1.0 / math.sqrt(ratio.shape[-1]))


def stiffness_estimate(tab: ButcherTableau, step: RKStep) -> torch.Tensor:
    """Hairer's estimate of the dominant Jacobian eigenvalue magnitude,
    ``|k_j - k_i| / |g_j - g_i|`` for the two last stages ``i, j`` sharing an
    abscissa (Euclidean norms over the last axis)."""
    i, j = tab.stiffness_pair
    num = torch.linalg.vector_norm(step.K[..., j] - step.K[..., i], dim=-1)
    den = torch.linalg.vector_norm(step.stages[j] - step.stages[i], dim=-1)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)


def dense_eval(tab: ButcherTableau, y0: torch.Tensor, K: torch.Tensor, h: Step, theta) -> torch.Tensor:
    """The method's interpolant on a step at fractions ``theta`` of it.

    Shared step: ``theta`` is a list of floats; returns ``(N, len(theta))``.
    Per-sample step: ``theta`` is a tensor ``(batch, J)``; returns ``(batch, D, J)``.
    """
    dense = tab.tensors(y0.dtype, y0.device)["dense"]
    deg = dense.shape[1]
    if isinstance(h, float):
        th = torch.tensor(theta, dtype=y0.dtype, device=y0.device)
        powers = th.unsqueeze(0) ** torch.arange(1, deg + 1, device=y0.device, dtype=y0.dtype).unsqueeze(1)
        return torch.addmm(y0.unsqueeze(-1), K, dense @ powers, alpha=h)
    exps = torch.arange(1, deg + 1, device=y0.device, dtype=y0.dtype)
    powers = theta.unsqueeze(1) ** exps.view(1, deg, 1)  # (batch, deg, J)
    weights = dense @ powers  # (batch, s, J)
    return y0.unsqueeze(-1) + h.unsqueeze(-1) * (K @ weights)
