"""The scaled error norm that every adaptive loop of the core controls.

For an error estimate ``err`` of a step from ``y0`` to ``y1`` with ``D`` entries per row::

    E = weight * sqrt( (1/D) sum_i (err_i / (atol + rtol max(|y0_i|, |y1_i|)))^2 )

(Hairer, Norsett & Wanner, Solving ODEs I, Sec. II.4, eq. 4.11). A step is accepted
iff ``E <= 1``. The ODE loops pass ``err = sum_i e_i k_i`` and ``weight = h``; the SDE
loop passes the error vector itself (``weight = 1``).
"""

from __future__ import annotations

import math
from typing import Union

import torch

Weight = Union[float, torch.Tensor]


def rms(x: torch.Tensor) -> torch.Tensor:
    """Root mean square over the last axis: ``|x|_2 / sqrt(D)``, shape ``x.shape[:-1]``."""
    return torch.linalg.vector_norm(x, dim=-1) * (1.0 / math.sqrt(x.shape[-1]))


def scaled_rms(error: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor, rtol: float, atol: float,
               weight: Weight = 1.0) -> torch.Tensor:
    """``E`` of the module docstring over the last axis of ``error`` (shape ``(rows, D)``
    -> ``(rows,)``). ``weight`` is a float, or a tensor with one entry per row."""
    scale = torch.maximum(y0.abs(), y1.abs()).mul_(rtol).add_(atol)
    norm = torch.linalg.vector_norm(error / scale, dim=-1)
    if not isinstance(weight, float):
        weight = weight.reshape(norm.shape)
    return norm * weight / math.sqrt(error.shape[-1])
