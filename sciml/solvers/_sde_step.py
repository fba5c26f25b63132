"""One differentiable SDE step with its error estimate, and an initial step size for SDEs.

These are the pieces local regularisation needs (Pal, Edelman & Rackauckas 2023): a
fresh integrator started at ``(t, y)`` takes one step ``h`` chosen without gradient and
reports the scaled error ``E`` that adaptive stepping would have controlled (the
method's embedded estimate, or step doubling), so ``E h`` can be penalised.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._brownian import BrownianPath
from ._checks import check_positive
from ._initial_step import initial_step_size
from ._norms import scaled_rms
from ._sde_error import step_with_error
from ._sde_methods import METHODS
from ._sde_problem import CountedSDE, check_sde, noise_dim

__all__ = ["SDEStepError", "sde_initial_step", "sde_step_error"]


class SDEStepError(NamedTuple):
    """One SDE step's diagnostics from :func:`sde_step_error`."""

    error: torch.Tensor  # scaled RMS error estimate E (0-d), differentiable
    y: torch.Tensor  # the state after the step (the more accurate of the pair)
    nfe: int  # evaluations of the pair (f, g)


@torch.no_grad()
def sde_initial_step(sde, t: float, y: torch.Tensor, rtol: float = 1e-3, atol: float = 1e-3,
                     method: str | None = None) -> tuple[float, int]:
    """``(h, nfe)``: :func:`initial_step_size` for an SDE (as StochasticDiffEq's
    ``sde_determine_initdt``): the diffusion enters the slope bounds through
    ``G = 3 sum_j |g_ij|``, and the exponent is ``1 / (strong order + 1/2)``. Two
    evaluations of ``(f, g)``; no gradient."""
    method = check_sde(sde, y, method)
    order = METHODS[method].strong_order + 0.5

    def noise(s, x):
        g = sde.g(s, x).abs()
        return 3 * (g.sum(-1) if g.dim() == 3 else g)  # a bound on |g dW| per unit noise

    return initial_step_size(sde.f, float(t), y, order, rtol, atol, noise=noise), 2


def sde_step_error(sde, t: float, y: torch.Tensor, h: float, method: str | None = None, *, rtol: float = 1e-3,
                   atol: float = 1e-3, seed: int = 0) -> SDEStepError:
    """One differentiable step of ``method`` from ``(t, y)`` with step ``h`` on a fresh
    Brownian path (``seed``) and its scaled error ``E = RMS(err / (atol + rtol
    max(|y|, |y_1|)))``: ``err`` is Heun's embedded estimate for ``heun`` and step
    doubling (one step of ``h`` against two of ``h/2``) otherwise, exactly what
    ``solve_sde(adaptive=True)`` controls and sums into ``stats.error_sum``."""
    method = check_sde(sde, y, method)
    h = check_positive("h", float(h))
    scheme = METHODS[method]
    m = noise_dim(sde, y)
    counted = CountedSDE(sde, y, m)
    bm = BrownianPath(t, t + h, (y.shape[0], m), seed=seed, dtype=y.dtype, device=y.device,
                      levy_area=scheme.levy_area)

    def increment(a, b):
        return bm(a, b), (bm.space_time_levy_area(a, b) if scheme.levy_area else None)

    tt = torch.scalar_tensor(t, dtype=y.dtype, device=y.device)
    state = scheme.init_state(counted, tt, y) if hasattr(scheme, "init_state") else None
    y_new, _, err_vec = step_with_error(counted, scheme, t, h, y, state, increment, y.dtype, y.device)
    err = scaled_rms(err_vec.reshape(1, -1), y.reshape(1, -1), y_new.reshape(1, -1), rtol, atol).reshape(())
    return SDEStepError(err, y_new, counted.nfe)
