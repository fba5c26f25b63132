"""One SDE step together with its local error estimate, the quantity adaptive SDE
stepping controls (and local regularisation penalises).

The estimate is the method's embedded one where it has one (heun: Heun minus its
Euler predictor), otherwise step doubling: one step of ``h`` against two of ``h/2``
on the same Brownian path, keeping the two half steps.
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["merge_levy_area", "step_with_error"]


def step_with_error(sde, scheme, t: float, h: float, y: torch.Tensor, state, increment: Callable,
                    dtype: torch.dtype, device: torch.device):
    """One attempt of ``scheme`` from ``(t, y)`` over ``h``: ``(y_new, state_new, err)``
    with ``err`` shaped like ``y``. ``increment(a, b) -> (W(b) - W(a), H_ab or None)``."""
    if hasattr(scheme, "step_with_error"):
        dw, area = increment(t, t + h)
        t0, dt = torch.scalar_tensor(t, dtype=dtype, device=device), torch.scalar_tensor(h, dtype=dtype, device=device)
        return scheme.step_with_error(sde, t0, dt, y, dw, area, state)
    tm = t + h / 2
    T = [torch.scalar_tensor(s, dtype=dtype, device=device) for s in (t, tm, t + h)]
    (dw1, h1), (dw2, h2) = increment(t, tm), increment(tm, t + h)
    full_area = None if h1 is None else merge_levy_area(dw1, h1, dw2, h2, h / 2)
    y_full, _ = scheme.step(sde, T[0], T[2] - T[0], y, dw1 + dw2, full_area, state)
    y_half, s_half = scheme.step(sde, T[0], T[1] - T[0], y, dw1, h1, state)
    y_two, s_two = scheme.step(sde, T[1], T[2] - T[1], y_half, dw2, h2, s_half)
    return y_two, s_two, y_two - y_full


def merge_levy_area(dw1, h1, dw2, h2, half):
    """Space-time Lévy area of ``[a, c]`` from its halves ``[a, b]`` and ``[b, c]`` of
    length ``half``. With ``A_ab = int_a^b (W_s - W_a) ds = (b - a)(H_ab + dW_ab / 2)``,
    ``A_ac = A_ab + A_bc + half dW_ab`` and ``H_ac = A_ac / (2 half) - dW_ac / 2``."""
    integral = half * (h1 + 0.5 * dw1) + half * (h2 + 0.5 * dw2) + half * dw1
    return integral / (2 * half) - 0.5 * (dw1 + dw2)
