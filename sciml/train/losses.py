"""Losses on fields ``(batch, channels, *space)``: relative/absolute L^p, H^1 and H^s.

Every loss compares ``pred`` and ``target`` of the same shape per sample and channel,
averages over channels and reduces over the batch by ``reduction``: ``"sum"``
(neuraloperator's default, so the loss of an epoch is the sum over its samples) or
``"mean"``. Relative losses divide by the target's norm per sample and channel (plus
``eps``), so the quadrature weights cancel; absolute losses use the Riemann sum with
cell size ``prod(L_i / n_i)`` (periodic grids: exact for trigonometric polynomials).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from sciml.pde import SpectralGrid

__all__ = ["H1Loss", "HsLoss", "LpLoss"]

_REDUCTIONS = ("sum", "mean")


def _check(pred: torch.Tensor, target: torch.Tensor, d: int | None) -> int:
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError("pred and target must be tensors")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    d = pred.dim() - 2 if d is None else d
    if d < 1 or pred.dim() < d + 2:
        raise ValueError(f"expected fields (batch, channels, *space) with {d} spatial axes, got {tuple(pred.shape)}")
    return d


def _lengths(lengths, d: int) -> tuple[float, ...]:
    if lengths is None:
        return (1.0,) * d
    if isinstance(lengths, (int, float)):
        return (float(lengths),) * d
    if len(lengths) != d:
        raise ValueError(f"lengths must give one domain length per spatial axis ({d}), got {lengths}")
    return tuple(float(v) for v in lengths)


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


class _FieldLoss(nn.Module):
    def __init__(self, d, relative, reduction, lengths, eps):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        if d is not None and (not isinstance(d, int) or d < 1):
            raise ValueError(f"d must be None or a positive int, got {d!r}")
        self.d, self.relative, self.reduction, self.lengths, self.eps = d, bool(relative), reduction, lengths, eps

    def _finish(self, err2: torch.Tensor, ref2: torch.Tensor) -> torch.Tensor:
        """From squared norms per (sample, channel) to the reduced loss."""
        value = err2.sqrt() / (ref2.sqrt() + self.eps) if self.relative else err2.sqrt()
        return _reduce(value.mean(-1), self.reduction)


class LpLoss(_FieldLoss):
    """``||pred - target||_p`` over the last ``d`` axes (``d=None``: every axis after
    batch and channel), per sample and channel.

    Relative (default): ``||e||_p / (||y||_p + eps)`` with plain sums (the quadrature
    weight cancels). Absolute: ``(h sum |e|^p)^(1/p)``, ``h = prod(L_i / n_i)``. Then the
    mean over channels and ``reduction`` over the batch. With one channel this equals
    neuraloperator's ``LpLoss(d, p)`` (relative, summed).
    """

    def __init__(self, p: float = 2, d: int | None = None, relative: bool = True, reduction: str = "sum",
                 lengths: Sequence[float] | float | None = None, eps: float = 1e-12):
        super().__init__(d, relative, reduction, lengths, eps)
        if not p >= 1:
            raise ValueError(f"p must be >= 1, got {p}")
        self.p = float(p)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = _check(pred, target, self.d)
        e = (pred - target).flatten(-d).flatten(1, -2)  # (batch, channels, points)
        y = target.flatten(-d).flatten(1, -2)
        p = self.p
        err = torch.linalg.vector_norm(e, ord=p, dim=-1)
        if self.relative:
            ref = torch.linalg.vector_norm(y, ord=p, dim=-1)
            return _reduce((err / (ref + self.eps)).mean(-1), self.reduction)
        h = math.prod(L / n for L, n in zip(_lengths(self.lengths, d), pred.shape[-d:]))
        return _reduce((h ** (1 / p) * err).mean(-1), self.reduction)


def _fd_gradient(u: torch.Tensor, axis: int, h: float, periodic: bool) -> torch.Tensor:
    """Second-order differences along ``axis``: central inside, one-sided three-point
    stencils at the two ends when not periodic."""
    if periodic:
        return (u.roll(-1, axis) - u.roll(1, axis)) / (2 * h)
    n = u.shape[axis]
    if n < 3:
        raise ValueError(f"finite-difference gradients need >= 3 points per axis, got {n}")
    x = u.movedim(axis, -1)
    inner = (x[..., 2:] - x[..., :-2]) / (2 * h)
    first = (-3 * x[..., :1] + 4 * x[..., 1:2] - x[..., 2:3]) / (2 * h)
    last = (3 * x[..., -1:] - 4 * x[..., -2:-1] + x[..., -3:-2]) / (2 * h)
    return torch.cat([first, inner, last], dim=-1).movedim(-1, axis)


class H1Loss(_FieldLoss):
    """``(||e||^2 + ||grad e||^2)^(1/2)`` over the last ``d`` axes, relative to the same
    norm of ``target`` by default.

    ``periodic=True`` (grid ``x_i = i L / n``): gradients are spectral
    (``method="spectral"``, exact on the resolved modes) or central differences
    (``"fd"``, as neuraloperator). ``periodic=False`` (grid ``x_i = i L / (n - 1)``,
    boundary included, e.g. Dirichlet Darcy): second-order central differences inside
    and one-sided three-point stencils on the boundary, never wrap-around. Absolute
    norms use the Riemann weight ``prod(L_i / n_i)``.
    """

    def __init__(self, d: int | None = None, periodic: bool = True, method: str = "spectral",
                 relative: bool = True, reduction: str = "sum", lengths: Sequence[float] | float | None = None,
                 eps: float = 1e-12):
        super().__init__(d, relative, reduction, lengths, eps)
        if method not in ("spectral", "fd"):
            raise ValueError(f"method must be 'spectral' or 'fd', got {method!r}")
        if method == "spectral" and not periodic:
            raise ValueError("spectral gradients need periodic fields; use method='fd' for periodic=False")
        self.periodic, self.method = bool(periodic), method

    def _squared(self, u: torch.Tensor, d: int) -> torch.Tensor:
        lengths = _lengths(self.lengths, d)
        shape = u.shape[-d:]
        if self.method == "spectral":
            return SpectralGrid(shape, lengths).sobolev_norm(u, 1.0, shift=1.0, squared=True)
        axes = tuple(range(-d, 0))
        total = u.pow(2).sum(axes)
        for i, (L, n) in enumerate(zip(lengths, shape)):
            h = L / n if self.periodic else L / (n - 1)
            total = total + _fd_gradient(u, u.dim() - d + i, h, self.periodic).pow(2).sum(axes)
        return total * (math.prod(lengths) / math.prod(shape))  # Riemann sum

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = _check(pred, target, self.d)
        err2, ref2 = self._squared(pred - target, d), self._squared(target, d)
        err2, ref2 = err2.reshape(err2.shape[0], -1), ref2.reshape(ref2.shape[0], -1)
        return self._finish(err2, ref2)


class HsLoss(_FieldLoss):
    """``||e||_{H^s} = (sum_k w_k (shift + |k|^2)^s |e_hat_k|^2 |Omega|)^(1/2)`` for any real
    ``s`` on periodic fields (``sciml.pde.SpectralGrid``; Parseval-exact), relative to
    ``target`` by default. ``|k|`` are angular wavenumbers ``2 pi m / L``.

    ``wavenumber_cutoff=K`` reproduces the truncation of the FNO/MgNO ``HsLoss``: a
    wavenumber component with ``|m_i| >= K`` counts as 0 in ``|k|^2`` (the mode is
    kept with a smaller weight). MgNO's H1 training loss is ``HsLoss(s=1, shift=1,
    lengths=2 pi, wavenumber_cutoff=20)`` (integer wavenumbers); the Spectral-Refiner's
    ``H^-1`` norm is ``s=-1, shift=10**-1.5``.
    """

    def __init__(self, s: float = 1.0, d: int | None = None, shift: float = 1.0, relative: bool = True,
                 reduction: str = "sum", lengths: Sequence[float] | float | None = None,
                 wavenumber_cutoff: int | None = None, eps: float = 1e-12):
        super().__init__(d, relative, reduction, lengths, eps)
        if not math.isfinite(s):
            raise ValueError(f"s must be finite, got {s}")
        if s < 0 and not shift > 0:
            raise ValueError(f"negative s needs shift > 0 (the mean mode), got shift={shift}")
        self.s, self.shift, self.cutoff = float(s), float(shift), wavenumber_cutoff

    def _squared(self, u: torch.Tensor, d: int) -> torch.Tensor:
        grid = SpectralGrid(u.shape[-d:], _lengths(self.lengths, d))
        if self.cutoff is None:
            return grid.sobolev_norm(u, self.s, shift=self.shift, squared=True)
        u_hat = grid.fft(u)
        k2 = 0.0
        for k, L in zip(grid.wavenumbers(u.dtype, u.device), grid.length):
            m = k * (L / (2 * math.pi))
            k2 = k2 + torch.where(m.abs() < self.cutoff, k, torch.zeros_like(k)) ** 2
        weight = (self.shift + k2) ** self.s * grid.mode_weights(u.dtype, u.device)
        return grid.volume * ((u_hat.real**2 + u_hat.imag**2) * weight).sum(grid.axes)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = _check(pred, target, self.d)
        err2, ref2 = self._squared(pred - target, d), self._squared(target, d)
        err2, ref2 = err2.reshape(err2.shape[0], -1), ref2.reshape(ref2.shape[0], -1)
        return self._finish(err2, ref2)
