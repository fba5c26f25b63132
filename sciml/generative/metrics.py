"""Distances between two samples, named after what they compute.

* :func:`wasserstein` ``W_p`` by POT's exact solver: ``p = 1`` with the Euclidean cost
  (``W1 = min <P, |x - y|>``), ``p = 2`` with the squared cost and a square root
  (``W2 = sqrt(min <P, |x - y|^2>)``). TrajectoryNet's ``earth_mover_distance``, used in
  the SBIRR notebooks, is this W2, not W1.
* :func:`energy_distance` Székely's ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistics,
  so it is >= 0; scipy's ``energy_distance`` is its square root, in 1-D only).
"""

from __future__ import annotations

import ot
import torch

from .couplings import squared_distances

__all__ = ["energy_distance", "wasserstein"]


def _check(x, y):
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"samples must be (n, d) and (m, d), got {tuple(x.shape)} and {tuple(y.shape)}")
    return x.detach().to(torch.float64), y.detach().to(x.device, torch.float64)


def wasserstein(x: torch.Tensor, y: torch.Tensor, p: int = 2) -> float:
    """The exact ``W_p`` (``p`` 1 or 2) between the empirical measures of ``x`` ``(n, d)``
    and ``y`` ``(m, d)`` with uniform weights."""
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    x, y = _check(x, y)
    cost = squared_distances(x, y)
    if p == 1:
        cost = cost.sqrt()
    a = torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=torch.float64, device=x.device)
    b = torch.full((y.shape[0],), 1.0 / y.shape[0], dtype=torch.float64, device=x.device)
    value = float(ot.emd2(a, b, cost, numItermax=10_000_000))
    return value if p == 1 else max(value, 0.0) ** 0.5


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` between ``x`` ``(n, d)`` and ``y`` ``(m, d)``."""
    x, y = _check(x, y)
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())
