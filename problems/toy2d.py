"""Two-dimensional toy distributions of generative modelling, as samplers
``(n, generator) -> (n, 2)``.

* :func:`standard_normal`: ``N(0, I)``.
* :func:`eight_gaussians`: eight equal Gaussians with centres on the circle of radius
  ``radius`` (5) and standard deviation ``std``: 0.1^(1/4), about 0.56, the spread of
  torchcfm's samples (its code passes ``sqrt(0.1)`` as a covariance), so that results
  compare with torchcfm's and [SF]2M's.
* :func:`moons`: two interleaved half circles (scikit-learn's ``make_moons``: upper arc
  ``(cos s, sin s)``, lower arc ``(1 - cos s, 1/2 - sin s)``, ``s ~ U(0, pi)``) with
  Gaussian noise ``noise`` (0.2), mapped by ``3 x - 1`` as in torchcfm's 2-D tutorials.
* :func:`checkerboard`: uniform on the dark squares of a 4 x 4 board of side ``2 half``
  (``[-4, 4]^2`` by default), the stochastic-interpolants paper's Sec. 7.1 target.
* :func:`gaussian_mixture`: any mixture with given means, standard deviations and weights.
"""

from __future__ import annotations

import math

import torch

from sciml.validation import check_int

__all__ = ["TOYS", "checkerboard", "eight_gaussians", "gaussian_mixture", "moons", "standard_normal"]


def standard_normal(n: int, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    check_int("n", n)
    return torch.randn(n, 2, generator=generator, dtype=dtype)


def gaussian_mixture(n: int, means: torch.Tensor, std, weights: torch.Tensor | None = None,
                     generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    """``n`` draws of ``sum_k w_k N(means_k, std_k^2 I)``; ``means`` ``(K, d)``, ``std`` a
    number or ``(K,)``."""
    check_int("n", n)
    means = torch.as_tensor(means, dtype=dtype)
    std = torch.as_tensor(std, dtype=dtype).expand(means.shape[0])
    w = torch.full((means.shape[0],), 1.0 / means.shape[0]) if weights is None else torch.as_tensor(weights)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError("mixture weights must be non-negative with a positive sum")
    k = torch.multinomial(w.double() / w.sum(), n, replacement=True, generator=generator)
    return means[k] + std[k, None] * torch.randn(n, means.shape[1], generator=generator, dtype=dtype)


def eight_gaussians(n: int, generator: torch.Generator | None = None, radius: float = 5.0,
                    std: float = 0.1 ** 0.25, dtype=torch.float32) -> torch.Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    return gaussian_mixture(n, means, std, generator=generator, dtype=dtype)


def moons(n: int, generator: torch.Generator | None = None, noise: float = 0.2, dtype=torch.float32) -> torch.Tensor:
    check_int("n", n)
    s = math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    lower = torch.rand(n, generator=generator) < 0.5
    x = torch.where(lower, 1 - torch.cos(s), torch.cos(s))
    y = torch.where(lower, 0.5 - torch.sin(s), torch.sin(s))
    points = torch.stack([x, y], 1) + noise * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return (3 * points - 1).to(dtype)


def checkerboard(n: int, generator: torch.Generator | None = None, half: float = 4.0,
                 dtype=torch.float32) -> torch.Tensor:
    check_int("n", n)
    side = half / 2                                           # 4 squares per axis
    col = torch.randint(4, (n,), generator=generator)
    row = 2 * torch.randint(2, (n,), generator=generator) + (col % 2)   # dark squares: row + col even
    corner = torch.stack([col, row], 1).to(torch.float64) * side - half
    return (corner + side * torch.rand(n, 2, generator=generator, dtype=torch.float64)).to(dtype)


TOYS = {"normal": standard_normal, "8gaussians": eight_gaussians, "moons": moons, "checkerboard": checkerboard}
