"""One explicit Runge--Kutta step for any tableau, its error and stiffness
estimates, and its dense output.

Working states are 2-D, ``(rows, D)``: one row holding the whole flattened batch
when the batch shares a Python-float step ``h``, or one row per sample with a
step ``h`` of shape ``(batch, 1)`` (``per_sample=True``). Stage derivatives are
kept contiguous along a new first axis, and every linear combination of stages is
a single matrix product:

* shared step: ``K`` is ``(s, N)`` and ``y + h a_i K`` is one ``addmm``;
* per-sample step: ``K`` is ``(s, batch, D)``.

The loops are written so that a step costs a fixed, small number of tensor
operations besides the evaluations of ``f``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Union

import torch

from ._norms import scaled_rms
from ._tableau import ButcherTableau

Step = Union[float, torch.Tensor]


class RKStep(NamedTuple):
    y1: torch.Tensor  # solution at t + h, shaped like y
    K: torch.Tensor  # stage derivatives on a leading axis: (s, N) shared, (s, batch, D) per sample
    ks: list  # the same derivatives as a list (ks[-1] is the FSAL derivative)
    error: torch.Tensor | None  # sum_i e_i k_i: the embedded error estimate divided by h
    stages: list  # stage states g_i (g_0 = y)


def stack(ks: list, shared: bool) -> torch.Tensor:
    """Stage derivatives on a leading axis: ``(i, N)`` from rows ``(1, N)``, or
    ``(i, batch, D)`` from ``(batch, D)``."""
    return torch.cat(ks) if shared else torch.stack(ks)


def combine(K: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """``sum_i coeffs_i K_i`` shaped like one stage, for ``coeffs`` of shape ``(1, s)``."""
    if K.dim() == 2:
        return coeffs @ K
    return (coeffs @ K.reshape(K.shape[0], -1)).view(K.shape[1:])


def lincomb(y: torch.Tensor, K: torch.Tensor, coeffs: torch.Tensor, h: Step) -> torch.Tensor:
    """``y + h * sum_i coeffs_i K_i`` for a shared (float) or per-sample (tensor) step."""
    if K.dim() == 2:
        return torch.addmm(y, coeffs, K, alpha=h)
    if isinstance(h, float):
        return torch.add(y, combine(K, coeffs), alpha=h)
    return torch.addcmul(y, h, combine(K, coeffs))


def rk_step(
    tab: ButcherTableau,
    f: Callable,
    y: torch.Tensor,
    h: Step,
    k1: torch.Tensor,
    time_of: Callable[[float], torch.Tensor],
) -> RKStep:
    """Take one step of ``tab`` from ``y`` (shape ``(rows, D)``) with first-stage
    derivative ``k1``; ``time_of(c)`` returns the time tensor ``t + c h`` for ``f``.
    A shared step is used iff ``h`` is a float and ``y`` has one row."""
    coef = tab.tensors(y.dtype, y.device)
    c, a = coef["c"], coef["a"]
    shared = isinstance(h, float) and y.shape[0] == 1
    ks = [k1]
    stages = [y]
    for i in range(1, tab.stages):
        g = lincomb(y, stack(ks, shared), a[i], h)
        ks.append(f(time_of(c[i]), g))
        stages.append(g)
    K = stack(ks, shared)
    y1 = stages[-1] if tab.fsal else lincomb(y, K, coef["b"], h)
    error = None if coef["e"] is None else combine(K, coef["e"])
    return RKStep(y1, K, ks, error, stages)


def scaled_error(
    step: RKStep, y0: torch.Tensor, h: Step, rtol: float, atol: float, components: int | None = None,
) -> torch.Tensor:
    """``E = RMS(err / (atol + rtol * max(|y0|, |y1|)))`` over the last axis, shape
    ``(rows,)``, for the embedded error ``err = h sum_i e_i k_i`` of ``step``.

    ``components`` restricts the norm to the first entries (the seminorm used by
    the adjoint, which leaves out parameter gradients).
    """
    error, y1 = step.error, step.y1
    if components is not None:
        error, y0, y1 = error[..., :components], y0[..., :components], y1[..., :components]
    return scaled_rms(error, y0, y1, rtol, atol, h)


def stiffness_estimate(tab: ButcherTableau, step: RKStep) -> torch.Tensor:
    """Hairer's estimate of the dominant Jacobian eigenvalue magnitude,
    ``|k_j - k_i| / |g_j - g_i|`` for the two last stages ``i, j`` sharing an
    abscissa (Euclidean norms over the last axis), shape ``(rows,)``."""
    i, j = tab.stiffness_pair
    num = torch.linalg.vector_norm(step.ks[j] - step.ks[i], dim=-1)
    den = torch.linalg.vector_norm(step.stages[j] - step.stages[i], dim=-1)
    return num / den.clamp_min(torch.finfo(den.dtype).tiny)


def dense_eval(tab: ButcherTableau, y0: torch.Tensor, K: torch.Tensor, h: Step, theta) -> torch.Tensor:
    """The method's interpolant ``y0 + h sum_i b_i(theta) k_i`` at fractions ``theta``
    of a step; returns one state per theta on a leading axis.

    Shared step: ``theta`` is a list of floats; returns ``(J, 1, N)``.
    Per-sample step: ``theta`` is a tensor ``(batch, J)``; returns ``(J, batch, D)``.
    """
    dense = tab.tensors(y0.dtype, y0.device)["dense"]  # (s, degree)
    exps = torch.arange(1, dense.shape[1] + 1, device=y0.device, dtype=y0.dtype)
    if K.dim() == 2:
        th = torch.tensor(theta, dtype=y0.dtype, device=y0.device)
        weights = (th.unsqueeze(-1) ** exps) @ dense.t()  # (J, s)
        return torch.addmm(y0, weights, K, alpha=h).unsqueeze(1)
    weights = (theta.unsqueeze(-1) ** exps) @ dense.t()  # (batch, J, s)
    return y0 + h * torch.einsum("bjs,sbd->jbd", weights, K)
