"""Finite differences across the frames of a trajectory.

:func:`time_derivative` is the fourth-order first derivative on ``T >= 5`` equispaced
frames ``f_0 .. f_{T-1}`` (spacing ``dt``), five points everywhere (the weights of
Fornberg, Math. Comp. 51 (1988), 699-706):

* interior, ``2 <= i <= T - 3``, central:
  ``f'_i = (f_{i-2} - 8 f_{i-1} + 8 f_{i+1} - f_{i+2}) / (12 dt)``;
* first frame, one-sided: ``f'_0 = (-25 f_0 + 48 f_1 - 36 f_2 + 16 f_3 - 3 f_4) / (12 dt)``;
* second frame, shifted: ``f'_1 = (-3 f_0 - 10 f_1 + 18 f_2 - 6 f_3 + f_4) / (12 dt)``;
* the last two frames mirror the first two (reversed frames, opposite sign).

Every stencil is exact for polynomials of degree 4, so the error is ``O(dt^4)`` for
smooth trajectories. The window is not assumed periodic (no FFT in time).
"""

from __future__ import annotations

import torch

from sciml.validation import check_real

__all__ = ["time_derivative"]

_ONE_SIDED = (-25.0, 48.0, -36.0, 16.0, -3.0)
_NEAR_END = (-3.0, -10.0, 18.0, -6.0, 1.0)


def time_derivative(frames: torch.Tensor, dt: float, axis: int = -3) -> torch.Tensor:
    """Fourth-order ``d/dt`` of ``frames`` along ``axis`` (``T >= 5`` frames ``dt`` apart;
    the default ``-3`` is the time axis of ``(..., T, s, s)`` trajectories); same shape
    and dtype as ``frames``."""
    if not isinstance(frames, torch.Tensor) or frames.dim() == 0:
        raise ValueError(f"frames must be a tensor with a time axis, got {type(frames).__name__}")
    if not -frames.dim() <= axis < frames.dim():
        raise ValueError(f"axis {axis} is out of range for frames of shape {tuple(frames.shape)}")
    dt = check_real("dt", dt, positive=True)
    T = frames.shape[axis]
    if T < 5:
        raise ValueError(f"the five-point stencils need T >= 5 frames along axis {axis}, got shape "
                         f"{tuple(frames.shape)}")
    frame = [frames.select(axis, i) for i in range(T)]
    out = []
    for i in range(T):
        if 2 <= i <= T - 3:
            d = frame[i - 2] - 8 * frame[i - 1] + 8 * frame[i + 1] - frame[i + 2]
        elif i < 2:
            weights = _ONE_SIDED if i == 0 else _NEAR_END
            d = sum(c * frame[j] for c, j in zip(weights, range(5)))
        else:
            weights = _ONE_SIDED if i == T - 1 else _NEAR_END
            d = -sum(c * frame[T - 1 - j] for c, j in zip(weights, range(5)))
        out.append(d / (12 * dt))
    return torch.stack(out, dim=axis)
