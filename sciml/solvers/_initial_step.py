"""The automatic first step of adaptive ODE and SDE solves.

Hairer, Norsett & Wanner, Solving ODEs I, Sec. II.4 ("starting step size"), in the
scaled RMS norm ``|x| = rms(x / (atol + rtol |y0|))``::

    d0 = |y0|,  d1 = |f0|,  h0 = 0.01 d0 / d1   (1e-6 if d0 or d1 < 1e-5)
    d2 = |f(t0 + h0, y0 + h0 f0) - f0| / h0
    h  = min(100 h0, (0.01 / max(d1, d2))^(1/q))   (max(1e-6, 1e-3 h0) if max(d1, d2) <= 1e-15)

with ``q`` the order that governs the local error (the controller's exponent). For
an SDE ``dy = f dt + g dW`` the diffusion widens the slope bounds, as in
StochasticDiffEq's ``sde_determine_initdt``: with a bound ``G >= 0`` on the size of
``g`` (``3 sum_j |g_ij|``), ``d1 = | |f0| + G0 |`` and
``d2 = | |f1 - f0| + G0 + G1 | / h0``, and ``q = strong order + 1/2``.
"""

from __future__ import annotations

from typing import Callable, Union

import torch

from sciml.validation import ArgumentTypeError, check_callable, check_real

from ._norms import rms

__all__ = ["initial_step_size"]

Time = Union[float, torch.Tensor]


def initial_step_size(
    func: Callable,
    t0: Time,
    y0: torch.Tensor,
    order: float,
    rtol: float,
    atol: float,
    *,
    f0: torch.Tensor | None = None,
    noise: Callable | None = None,
) -> Time:
    """The starting step of the module docstring; call it under ``torch.no_grad()``.

    Args:
        func: ``func(t, y) -> dy/dt`` with ``y`` shaped like ``y0``; ``t`` is a 0-d tensor
            of ``y0``'s dtype for a float ``t0``, the tensor ``t0 + h0`` otherwise.
        t0: the initial time: a float (one step for the whole of ``y0``, norms over all
            its entries), or a tensor of shape ``(batch,)`` (one step per sample, norms
            over each sample's entries ``y0[b]``).
        y0: the initial state.
        order: ``q`` above.
        rtol, atol: the tolerances of the solve.
        f0: ``func(t0, y0)`` when already evaluated (otherwise one more evaluation).
        noise: ``noise(t, y) -> G`` (``t`` as for ``func``), a non-negative bound on the
            diffusion's size shaped like ``y`` (SDEs); ``None`` for ODEs.

    Returns:
        ``h``: a float for a float ``t0`` (after two host synchronisations), a tensor
        of shape ``(batch,)`` otherwise (no synchronisation). ``func`` is evaluated
        once, twice without ``f0``; ``noise`` twice.
    """
    check_callable("func", func, "func(t, y) -> dy/dt")
    if noise is not None:
        check_callable("noise", noise, "noise(t, y) -> G")
    if not isinstance(y0, torch.Tensor) or not y0.is_floating_point():
        raise ArgumentTypeError(f"y0 must be a floating tensor, got "
                                f"{y0.dtype if isinstance(y0, torch.Tensor) else type(y0).__name__}")
    order = check_real("order", order, positive=True, hint="order is the exponent q of the local error, e.g. 5")
    if not isinstance(rtol, torch.Tensor):
        rtol = check_real("rtol", rtol, nonnegative=True)
    if not isinstance(atol, torch.Tensor):
        atol = check_real("atol", atol, nonnegative=True)
    if not isinstance(rtol, torch.Tensor) and not isinstance(atol, torch.Tensor) and rtol == 0 and atol == 0:
        raise ValueError("rtol and atol are both 0; give at least one positive tolerance")
    shared = not isinstance(t0, torch.Tensor)
    rows = 1 if shared else y0.shape[0]
    t_start = torch.scalar_tensor(t0, dtype=y0.dtype, device=y0.device) if shared else t0
    if f0 is None:
        f0 = func(t_start, y0)
    y, f = y0.reshape(rows, -1), f0.reshape(rows, -1)
    g0 = None if noise is None else noise(t_start, y0).reshape(rows, -1)
    scale = y.abs().mul_(rtol).add_(atol)
    slope = f if g0 is None else f.abs() + g0
    d = rms(torch.stack([y, slope]) / scale)  # (2, rows)
    if shared:
        d0, d1 = d.reshape(2).tolist()
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        t1 = torch.scalar_tensor(t0 + h0, dtype=y0.dtype, device=y0.device)
        y1 = torch.add(y0, f0, alpha=h0)
    else:
        d0, d1 = d
        h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6), 0.01 * d0 / d1)
        t1 = t0 + h0
        y1 = y0 + h0.view(-1, *([1] * (y0.dim() - 1))) * f0
    change = func(t1, y1).reshape(rows, -1) - f
    if noise is not None:
        change = change.abs() + (g0 + noise(t1, y1).reshape(rows, -1))
    if shared:
        dmax = max(d1, rms(change / scale).item() / h0)
        h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** (1.0 / order)
        return min(100 * h0, h1)
    dmax = torch.maximum(d1, rms(change / scale) / h0)
    h1 = torch.where(dmax <= 1e-15, torch.clamp_min(h0 * 1e-3, 1e-6), (0.01 / dmax) ** (1.0 / order))
    return torch.minimum(100 * h0, h1)
