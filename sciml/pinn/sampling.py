"""Collocation points on boxes ``[(lo, hi), ...]``: tensor grids, uniform random, Latin
hypercube, and residual-based adaptive resampling.

Every sampler takes a ``torch.Generator`` (or seed) so point sets are reproducible.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from sciml.validation import check_choice, check_int

__all__ = ["ResidualResampler", "grid", "latin_hypercube", "uniform"]


def _bounds(bounds) -> torch.Tensor:
    b = torch.as_tensor(bounds, dtype=torch.float64)
    if b.dim() != 2 or b.shape[1] != 2 or not bool((b[:, 1] > b[:, 0]).all()):
        raise ValueError(f"bounds must be [(lo, hi), ...] with hi > lo, got {bounds}")
    return b


def grid(bounds, sizes: Sequence[int], endpoint: Sequence[bool] | bool = True,
         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The tensor grid with ``sizes[i]`` points per dimension, ``(prod(sizes), d)``, the
    last dimension varying fastest; ``endpoint=False`` drops ``hi`` (periodic axes)."""
    b = _bounds(bounds)
    ends = [endpoint] * len(b) if isinstance(endpoint, bool) else list(endpoint)
    if len(sizes) != len(b) or len(ends) != len(b):
        raise ValueError(f"need one size and endpoint flag per dimension ({len(b)})")
    lines = [torch.from_numpy(np.linspace(float(lo), float(hi), n, endpoint=e)) for (lo, hi), n, e in zip(b, sizes, ends)]
    mesh = torch.meshgrid(*lines, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=1).to(dtype)


def _generator(generator) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    return torch.Generator().manual_seed(0 if generator is None else int(generator))


def uniform(bounds, n: int, generator=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` independent uniform points, ``(n, d)``."""
    b = _bounds(bounds)
    u = torch.rand(n, len(b), generator=_generator(generator), dtype=torch.float64)
    return (b[:, 0] + u * (b[:, 1] - b[:, 0])).to(dtype)


def latin_hypercube(bounds, n: int, generator=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` Latin-hypercube points (scipy's ``qmc.LatinHypercube``; every dimension's
    ``n`` strata hold one point each), ``(n, d)``."""
    from scipy.stats import qmc

    b = _bounds(bounds)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=_generator(generator)))
    points = qmc.LatinHypercube(d=len(b), seed=seed).random(n)
    return (b[:, 0] + torch.from_numpy(points) * (b[:, 1] - b[:, 0])).to(dtype)


class ResidualResampler:
    """Residual-based adaptive resampling (Wu et al., CMAME 2023, "RAD"): draw ``n``
    collocation points from a candidate pool with probability
    ``p ~ |r|^k / mean(|r|^k) + c`` (``k = 1, c = 1`` by default; ``c -> inf`` is uniform,
    ``c = 0`` follows the residual only). With ``mode="add"`` the ``n`` points of largest
    residual are appended instead (RAR-G, Lu et al. 2021).

    ``resampler(residual_fn, current) -> new points``, where ``residual_fn(points)`` gives
    the residual at candidate points (evaluated without building a training graph).
    """

    def __init__(self, bounds, n: int, pool: int = 10_000, k: float = 1.0, c: float = 1.0, mode: str = "replace",
                 generator=None):
        check_choice("mode", mode, ("replace", "add"))
        n = check_int("n", n)
        pool = check_int("pool", pool, minimum=n, hint=f"the candidate pool must hold at least the n={n} points drawn")
        self.bounds, self.n, self.pool, self.k, self.c, self.mode = bounds, n, pool, k, c, mode
        self.generator = _generator(generator)

    def __call__(self, residual_fn: Callable[[torch.Tensor], torch.Tensor], current: torch.Tensor) -> torch.Tensor:
        candidates = uniform(self.bounds, self.pool, self.generator, current.dtype).to(current.device)
        r = residual_fn(candidates.clone().requires_grad_(True)).detach().abs().reshape(len(candidates), -1).sum(1)
        if self.mode == "add":
            return torch.cat([current, candidates[r.topk(self.n).indices]])
        weight = r.double() ** self.k
        p = weight / weight.mean().clamp_min(1e-300) + self.c
        index = torch.multinomial((p / p.sum()).cpu(), self.n, replacement=False, generator=self.generator)
        return candidates[index.to(candidates.device)]
