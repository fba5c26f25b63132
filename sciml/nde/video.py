"""Image sequences for latent fractional SDEs: stochastic moving digits generated in
code, and the small convolutional frame encoder / decoder.

:func:`moving_digits` places one of scikit-learn's bundled 8x8 digits (upsampled to
``digit`` pixels) on a ``size x size`` canvas and moves it along a path whose two
coordinates are independent exact fractional Brownian motions (Hurst ``hurst``),
reflected at the borders: long-memory motion for ``hurst > 1/2``. The paper's video
setting (64x64 stochastic moving MNIST, 25 frames, 4-block encoder, latent d = 4-6,
~39 GPU-hours per model) is a GPU job; this is its CPU-sized counterpart.
"""

from __future__ import annotations

import torch
from torch import nn

from sciml.solvers import sample_exact_fbm
from sciml.validation import check_int

__all__ = ["FrameDecoder", "FrameEncoder", "moving_digits"]


def _reflect(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    span = high - low
    y = torch.remainder(x - low, 2 * span)
    return low + torch.where(y > span, 2 * span - y, y)


def moving_digits(n: int, frames: int = 16, size: int = 32, digit: int = 16, hurst: float = 0.7,
                  scale: float = 0.6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(videos (n, frames, 1, size, size) in [0, 1], positions (n, frames, 2), times (frames,))``.

    The digit's top-left corner starts uniformly inside the canvas and moves by
    ``scale * (size - digit) * B^H_t`` per coordinate, ``t`` in [0, 1], reflected at the
    borders and rounded to whole pixels."""
    from sklearn.datasets import load_digits

    if digit > size:
        raise ValueError(f"digit ({digit}) must fit in the canvas ({size})")
    g = torch.Generator().manual_seed(seed)
    images = torch.tensor(load_digits().images, dtype=torch.float32) / 16
    pick = images[torch.randint(0, len(images), (n,), generator=g)]
    glyphs = nn.functional.interpolate(pick[:, None], size=(digit, digit), mode="bilinear", align_corners=False)[:, 0]
    times = torch.linspace(0, 1, frames, dtype=torch.float64)
    room = size - digit
    start = torch.rand(n, 1, 2, generator=g, dtype=torch.float64) * room
    motion = torch.stack([sample_exact_fbm(times, n, hurst, generator=g) for _ in range(2)], -1)
    positions = _reflect(start + scale * room * motion, 0.0, float(room))
    corner = positions.round().long()
    videos = torch.zeros(n, frames, 1, size, size)
    for i in range(n):
        for k in range(frames):
            r, c = corner[i, k].tolist()
            videos[i, k, 0, r:r + digit, c:c + digit] = glyphs[i]
    return videos, positions.float(), times.float()


def _check_size(size: int) -> int:
    size = check_int("size", size, minimum=8, hint="a power of two such as 32")
    if size & (size - 1):
        raise ValueError(f"size must be a power of two >= 8, got {size}")
    return size


class FrameEncoder(nn.Module):
    """``(N, channels, size, size)`` -> ``(N, features)``: stride-2 conv blocks down to 4x4."""

    def __init__(self, channels: int = 1, size: int = 32, features: int = 64, width: int = 32):
        super().__init__()
        size = _check_size(size)
        layers, c = [], channels
        while size > 4:
            layers += [nn.Conv2d(c, width, 4, stride=2, padding=1), nn.GroupNorm(4, width), nn.SiLU()]
            c, size = width, size // 2
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * 16, features))

    def forward(self, x):
        return self.net(x)


class FrameDecoder(nn.Module):
    """``(N, latent)`` -> ``(N, channels, size, size)`` logits-free intensities in (0, 1)."""

    def __init__(self, latent: int, channels: int = 1, size: int = 32, width: int = 32):
        super().__init__()
        size = _check_size(size)
        self.width = width
        self.lift = nn.Linear(latent, width * 16)
        layers, s = [], 4
        while s < size:
            last = s * 2 == size
            layers += [nn.ConvTranspose2d(width, channels if last else width, 4, stride=2, padding=1)]
            if not last:
                layers += [nn.GroupNorm(4, width), nn.SiLU()]
            s *= 2
        self.net = nn.Sequential(*layers, nn.Sigmoid())

    def forward(self, z):
        return self.net(self.lift(z).view(-1, self.width, 4, 4))
