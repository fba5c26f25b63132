"""Periodic spectral grids in 1, 2 and 3 dimensions.

A field ``u`` of shape ``(..., n_1, ..., n_d)`` samples a function on the torus
``[0, L_1) x ... x [0, L_d)`` at ``x_j = j L / n``. Its discrete Fourier
coefficients (real FFT over the last ``d`` axes, ``norm="forward"``) are

    u_hat_m = (1 / N) sum_j u_j exp(-i k_m . x_j),     k_m = 2 pi m / L,

so ``u(x) = sum_m u_hat_m exp(i k_m . x)`` exactly for trigonometric polynomials of
degree below ``n/2``, and Parseval reads ``(1/|Omega|) int |u|^2 = sum_m |u_hat_m|^2``.
Every operator here is diagonal in this basis, batched over the leading axes,
differentiable and device-agnostic.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass
from typing import Sequence

import torch

from sciml.validation import ArgumentTypeError, check_int, check_real

__all__ = ["SpectralGrid"]


@dataclass(frozen=True)
class SpectralGrid:
    """A uniform periodic grid.

    Args:
        shape: points per dimension ``(n_1, ..., n_d)``, ``d`` in 1..3.
        length: period per dimension (a number applies to all), default 1.

    Example:
        >>> import torch
        >>> grid = SpectralGrid((64,))
        >>> x = grid.coordinates(torch.float64)[0]
        >>> u = torch.sin(2 * torch.pi * x)
        >>> bool(torch.allclose(grid.derivative(u, (1,)), 2 * torch.pi * torch.cos(2 * torch.pi * x)))
        True
    """

    shape: tuple[int, ...]
    length: tuple[float, ...] | float = 1.0

    def __post_init__(self):
        raw = (self.shape,) if isinstance(self.shape, numbers.Integral) and not isinstance(self.shape, bool) \
            else self.shape
        if isinstance(raw, str) or not hasattr(raw, "__iter__"):
            raise ArgumentTypeError(f"shape must be an int or a tuple of 1 to 3 ints (points per dimension), "
                                    f"got {self.shape!r} ({type(self.shape).__name__})")
        shape = tuple(check_int(f"shape[{i}]", n, minimum=None) for i, n in enumerate(raw))
        if not 1 <= len(shape) <= 3 or any(n < 2 for n in shape):
            raise ValueError(f"shape must list 1 to 3 sizes >= 2, got {self.shape}")
        length = self.length if isinstance(self.length, (tuple, list)) else (self.length,) * len(shape)
        length = tuple(check_real("length", v) for v in length)
        if len(length) != len(shape) or any(not (math.isfinite(v) and v > 0) for v in length):
            raise ValueError(f"length must be a positive number or one per dimension of {shape}, got {self.length}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "length", length)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def axes(self) -> tuple[int, ...]:
        return tuple(range(-self.ndim, 0))

    @property
    def volume(self) -> float:
        return math.prod(self.length)

    def coordinates(self, dtype: torch.dtype = torch.float32, device=None) -> list[torch.Tensor]:
        """Meshgrid coordinates, one tensor of shape ``shape`` per dimension."""
        lines = [torch.arange(n, dtype=dtype, device=device) * (length / n) for n, length in zip(self.shape, self.length)]
        return list(torch.meshgrid(*lines, indexing="ij"))

    def wavenumbers(self, dtype: torch.dtype = torch.float32, device=None, odd: bool = False) -> list[torch.Tensor]:
        """Angular wavenumbers ``k = 2 pi m / L`` in the real-FFT layout, one tensor per
        dimension, broadcastable to ``(*shape[:-1], shape[-1] // 2 + 1)``. With
        ``odd=True`` the Nyquist mode of even sizes is 0, as odd-order derivatives of
        a real field need (its sign is ambiguous on the grid)."""
        if odd:
            return [self._nyquist_free(k, i) for i, k in enumerate(self.wavenumbers(dtype, device))]
        ks = []
        for i, (n, length) in enumerate(zip(self.shape, self.length)):
            last = i == self.ndim - 1
            m = torch.fft.rfftfreq(n, d=1.0 / n, dtype=dtype, device=device) if last else \
                torch.fft.fftfreq(n, d=1.0 / n, dtype=dtype, device=device)
            view = [1] * self.ndim
            view[i] = -1
            ks.append((2 * math.pi / length) * m.view(view))
        return ks

    def fft(self, u: torch.Tensor) -> torch.Tensor:
        """Fourier coefficients ``u_hat`` (``norm="forward"``) of a real field."""
        self._check(u)
        return torch.fft.rfftn(u, dim=self.axes, norm="forward")

    def ifft(self, u_hat: torch.Tensor) -> torch.Tensor:
        """The real field with Fourier coefficients ``u_hat``."""
        return torch.fft.irfftn(u_hat, s=self.shape, dim=self.axes, norm="forward")

    def _nyquist_free(self, k: torch.Tensor, i: int) -> torch.Tensor:
        """``k`` with the Nyquist mode of an even dimension set to zero (odd
        derivatives of a real field have no real Nyquist component)."""
        n = self.shape[i]
        if n % 2:
            return k
        index = n // 2
        k = k.clone()
        k.select(i - self.ndim, index).zero_()
        return k

    def derivative(self, u: torch.Tensor, order: Sequence[int]) -> torch.Tensor:
        """``d^order u`` (one non-negative order per dimension), spectrally exact for
        trigonometric polynomials of degree below ``n/2``."""
        if len(order) != self.ndim or any(int(o) < 0 for o in order):
            raise ValueError(f"order needs {self.ndim} non-negative integers, got {tuple(order)}")
        u_hat = self.fft(u)
        even, odd = self.wavenumbers(u.dtype, u.device), self.wavenumbers(u.dtype, u.device, odd=True)
        factor = torch.ones((), dtype=u_hat.dtype, device=u.device)
        for k_even, k_odd, o in zip(even, odd, order):
            if o:
                factor = factor * (1j * (k_odd if o % 2 else k_even)) ** int(o)
        return self.ifft(u_hat * factor)

    def laplacian(self, u: torch.Tensor) -> torch.Tensor:
        """``Delta u``."""
        return self.ifft(-self.k_squared(u.dtype, u.device) * self.fft(u))

    def k_squared(self, dtype=torch.float32, device=None) -> torch.Tensor:
        """``|k|^2`` in the real-FFT layout."""
        return sum(k * k for k in self.wavenumbers(dtype, device))

    def inverse_laplacian(self, f: torch.Tensor) -> torch.Tensor:
        """The zero-mean solution ``u`` of ``Delta u = f - mean(f)``."""
        k2 = self.k_squared(f.dtype, f.device)
        inverse = torch.where(k2 > 0, -1.0 / torch.where(k2 > 0, k2, 1.0), 0.0)
        return self.ifft(inverse * self.fft(f))

    def dealias_mask(self, dtype=torch.float32, device=None) -> torch.Tensor:
        """Orszag's 2/3 rule: 1 for modes with ``|m_i| <= n_i / 3`` in every
        dimension, 0 otherwise (real-FFT layout)."""
        mask = torch.ones((), dtype=dtype, device=device)
        for k, n, length in zip(self.wavenumbers(dtype, device), self.shape, self.length):
            m = k * (length / (2 * math.pi))
            mask = mask * (m.abs() <= n / 3).to(dtype)
        return mask

    def mode_weights(self, dtype=torch.float32, device=None) -> torch.Tensor:
        """How many complex modes each real-FFT coefficient stands for: 2 for the
        half-spectrum modes whose conjugate is not stored, 1 for ``m_d = 0`` and the
        Nyquist column. ``sum(weights * |u_hat|^2)`` is the full Parseval sum."""
        n = self.shape[-1]
        w = torch.full((n // 2 + 1,), 2.0, dtype=dtype, device=device)
        w[0] = 1.0
        if n % 2 == 0:
            w[-1] = 1.0
        return w

    def sobolev_norm(self, u: torch.Tensor, s: float, shift: float = 1.0, squared: bool = False) -> torch.Tensor:
        """``||u||_{H^s}^2 = |Omega| sum_m (shift + |k_m|^2)^s |u_hat_m|^2`` over the last
        ``d`` axes, for any real ``s`` (negative included). With ``s = 0`` this is
        ``int |u|^2 dx`` exactly (Parseval). ``shift`` must be > 0 for ``s < 0``
        unless ``u`` has zero mean."""
        if not math.isfinite(s):
            raise ValueError(f"s must be a finite real number, got {s}")
        if not shift >= 0:
            raise ValueError(f"shift must be >= 0, got {shift}")
        u_hat = self.fft(u)
        weight = shift + self.k_squared(u.dtype, u.device)
        factor = torch.where(weight > 0, weight.clamp_min(torch.finfo(u.dtype).tiny) ** s, 0.0)
        energy = (u_hat.real**2 + u_hat.imag**2) * factor * self.mode_weights(u.dtype, u.device)
        total = self.volume * energy.sum(dim=self.axes)
        return total if squared else total.sqrt()

    def resample(self, u: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
        """Fourier interpolation (or truncation) of ``u`` from this grid onto the grid of
        ``shape`` with the same periods: the modes ``|m_i| < min(n_i, n'_i) / 2`` are kept,
        the rest (Nyquist modes included) dropped. Exact for trigonometric polynomials of
        that degree; restriction by it is the L2 projection onto the coarse modes.
        Differentiable; ``shape`` must have this grid's dimension."""
        self._check(u)
        shape = tuple(int(n) for n in shape)
        if len(shape) != self.ndim or any(n < 2 for n in shape):
            raise ValueError(f"shape must list {self.ndim} sizes >= 2, got {shape}")
        if shape == self.shape:
            return u
        u_hat = self.fft(u)
        target = SpectralGrid(shape, self.length)
        out = u_hat.new_zeros(*u_hat.shape[:-self.ndim], *shape[:-1], shape[-1] // 2 + 1)
        keep = [min(n, m) // 2 for n, m in zip(self.shape, shape)]  # modes 0..keep-1 (and -keep+1..-1)
        src, dst = [], []
        for i, h in enumerate(keep[:-1]):
            src.append([slice(0, h), slice(self.shape[i] - h + 1, self.shape[i])])
            dst.append([slice(0, h), slice(shape[i] - h + 1, shape[i])])
        last = slice(0, keep[-1])
        lead = (slice(None),) * (u_hat.dim() - self.ndim)
        for combo in itertools.product(*[range(2)] * (self.ndim - 1)):
            s_idx = tuple(src[i][c] for i, c in enumerate(combo))
            d_idx = tuple(dst[i][c] for i, c in enumerate(combo))
            out[lead + d_idx + (last,)] = u_hat[lead + s_idx + (last,)]
        return target.ifft(out)

    def _check(self, u: torch.Tensor) -> None:
        if not isinstance(u, torch.Tensor) or tuple(u.shape[-self.ndim:]) != self.shape:
            got = tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
            raise ValueError(f"field of shape (..., {', '.join(map(str, self.shape))}) expected, got {got}")
        if not u.is_floating_point():
            raise TypeError(f"field must be a real floating tensor, got {u.dtype}")
