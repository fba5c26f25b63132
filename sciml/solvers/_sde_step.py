"""One differentiable SDE step with its error estimate, and an initial step size for SDEs.

These are the pieces local regularisation needs (Pal, Edelman & Rackauckas 2023): a
fresh integrator started at ``(t, y)`` takes one step ``h`` chosen without gradient and
reports the scaled error ``E`` that adaptive stepping would have controlled (the
method's embedded estimate, or step doubling), so ``E h`` can be penalised.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ._brownian import BrownianPath
from ._checks import check_positive
from ._sde import _attempt, _check_sde, _Counted, _noise_dim
from ._sde_methods import METHODS

__all__ = ["SDEStepError", "sde_initial_step", "sde_step_error"]


class SDEStepError(NamedTuple):
    """One SDE step's diagnostics from :func:`sde_step_error`."""

    error: torch.Tensor  # scaled RMS error estimate E (0-d), differentiable
    y: torch.Tensor  # the state after the step (the more accurate of the pair)
    nfe: int  # evaluations of the pair (f, g)


def _rms(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x) / math.sqrt(x.numel()))


@torch.no_grad()
def sde_initial_step(sde, t: float, y: torch.Tensor, rtol: float = 1e-3, atol: float = 1e-3,
                     method: str | None = None) -> tuple[float, int]:
    """``(h, nfe)``: the Hairer–Nørsett–Wanner starting step extended to SDEs (as
    StochasticDiffEq's ``sde_determine_initdt``): the diffusion enters the slope
    bounds as ``f +- 3 g``, and the exponent is ``1 / (strong order + 1/2)``. Two
    evaluations of ``(f, g)``; no gradient."""
    method = _check_sde(sde, y, method)
    order = METHODS[method].strong_order
    tt = torch.scalar_tensor(t, dtype=y.dtype, device=y.device)
    scale = y.abs() * rtol + atol

    def g_dense(s, x):
        g = sde.g(s, x)
        return g.abs().sum(-1) if g.dim() == 3 else g  # a bound on |g dW| per unit noise

    f0, g0 = sde.f(tt, y), 3 * g_dense(tt, y)
    d0 = _rms(y / scale)
    d1 = _rms(torch.maximum((f0 + g0).abs(), (f0 - g0).abs()) / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    t1 = torch.scalar_tensor(t + h0, dtype=y.dtype, device=y.device)
    y1 = y + h0 * f0
    f1, g1 = sde.f(t1, y1), 3 * g_dense(t1, y1)
    dg = torch.maximum((g0 - g1).abs(), (g0 + g1).abs())
    df = f1 - f0
    d2 = _rms(torch.maximum((df + dg).abs(), (df - dg).abs()) / scale) / h0
    top = max(d1, d2)
    h1 = max(1e-6, 1e-3 * h0) if top <= 1e-15 else 10.0 ** (-(2.0 + math.log10(top)) / (order + 0.5))
    return min(100 * h0, h1), 2


def sde_step_error(sde, t: float, y: torch.Tensor, h: float, method: str | None = None, *, rtol: float = 1e-3,
                   atol: float = 1e-3, seed: int = 0) -> SDEStepError:
    """One differentiable step of ``method`` from ``(t, y)`` with step ``h`` on a fresh
    Brownian path (``seed``) and its scaled error ``E = RMS(err / (atol + rtol
    max(|y|, |y_1|)))``: ``err`` is Heun's embedded estimate for ``heun`` and step
    doubling (one step of ``h`` against two of ``h/2``) otherwise, exactly what
    ``solve_sde(adaptive=True)`` controls and sums into ``stats.error_sum``."""
    method = _check_sde(sde, y, method)
    h = check_positive("h", float(h))
    scheme = METHODS[method]
    m = _noise_dim(sde, y)
    counted = _Counted(sde, y, m)
    bm = BrownianPath(t, t + h, (y.shape[0], m), seed=seed, dtype=y.dtype, device=y.device,
                      levy_area=scheme.levy_area)

    def increment(a, b):
        return bm(a, b), (bm.space_time_levy_area(a, b) if scheme.levy_area else None)

    tt = torch.scalar_tensor(t, dtype=y.dtype, device=y.device)
    state = scheme.init_state(counted, tt, y) if hasattr(scheme, "init_state") else None
    y_new, _, err_vec = _attempt(counted, scheme, t, h, y, state, increment, y.dtype, y.device)
    scale = torch.maximum(y.abs(), y_new.abs()) * rtol + atol
    err = torch.linalg.vector_norm(err_vec / scale) / math.sqrt(y.numel())
    return SDEStepError(err, y_new, counted.nfe)
