"""Losses on fields ``(batch, channels, *space)``: relative/absolute L^p, H^1 and H^s.

Every loss compares ``pred`` and ``target`` of the same shape per sample and channel,
averages over channels and reduces over the batch by ``reduction``: ``"sum"``
(neuraloperator's default, so the loss of an epoch is the sum over its samples) or
``"mean"``. Relative losses divide by the target's norm per sample and channel (plus
``eps``), so the quadrature weights cancel; absolute losses use the Riemann sum with
cell size ``prod(L_i / n_i)`` (periodic grids: exact for trigonometric polynomials).

A relative error is undefined where the target vanishes: a target whose norm is exactly
0 for some sample and channel raises ``ValueError`` (use ``relative=False`` for such
data); ``eps`` only guards the division against round-off on tiny norms. Checking this
reads one boolean from the device per call.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import torch
from torch import nn

from sciml.pde import SpectralGrid
from sciml.validation import ArgumentTypeError, check_choice, check_int, check_real

__all__ = ["H1Loss", "HsLoss", "LpLoss"]

_REDUCTIONS = ("sum", "mean")


def _check(pred: torch.Tensor, target: torch.Tensor, d: int | None) -> int:
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ArgumentTypeError(f"pred and target must be tensors (batch, channels, *space), got "
                                f"{type(pred).__name__} and {type(target).__name__}")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and "
                         f"{tuple(target.shape)}")
    if not pred.is_floating_point() or not target.is_floating_point():
        raise ArgumentTypeError(f"pred and target must be floating-point tensors, got {pred.dtype} and "
                                f"{target.dtype}; convert them with .float() or .double()")
    d = pred.dim() - 2 if d is None else d
    if d < 1 or pred.dim() < d + 2:
        raise ValueError(f"expected fields (batch, channels, *space) with {d} spatial axes, got {tuple(pred.shape)}")
    return d


def _check_lengths(lengths) -> float | tuple[float, ...] | None:
    """``None``, one domain length, or one per axis; each finite and > 0."""
    if lengths is None:
        return None
    if isinstance(lengths, numbers.Real):
        return check_real("lengths", lengths, positive=True)
    if not isinstance(lengths, Sequence):
        raise ArgumentTypeError(f"lengths must be None, a number or one number per spatial axis, got "
                                f"{type(lengths).__name__}")
    return tuple(check_real(f"lengths[{i}]", v, positive=True) for i, v in enumerate(lengths))


def _lengths(lengths, d: int) -> tuple[float, ...]:
    if lengths is None:
        return (1.0,) * d
    if isinstance(lengths, float):
        return (lengths,) * d
    if len(lengths) != d:
        raise ValueError(f"lengths must give one domain length per spatial axis ({d}), got {lengths}")
    return lengths


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


class _FieldLoss(nn.Module):
    def __init__(self, d, relative, reduction, lengths, eps):
        super().__init__()
        check_choice("reduction", reduction, _REDUCTIONS)
        if d is not None:
            d = check_int("d", d, hint="the number of spatial axes, or None for every axis after (batch, channels)")
        if not isinstance(relative, bool):
            raise ArgumentTypeError(f"relative must be True or False, got {relative!r} ({type(relative).__name__})")
        eps = check_real("eps", eps, nonnegative=True)
        self.d, self.relative, self.reduction, self.lengths, self.eps = d, relative, reduction, \
            _check_lengths(lengths), eps

    def _relative(self, err: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """``err / (ref + eps)`` per (sample, channel) ``(batch, channels)``; a zero ``ref`` raises."""
        zero = ref == 0
        if bool(zero.any()):
            sample, channel = (int(i) for i in zero.nonzero()[0])
            raise ValueError(f"{type(self).__name__}: the target has zero norm in {int(zero.sum())} of {zero.numel()} "
                             f"(sample, channel) pairs (first: sample {sample}, channel {channel}), where a relative "
                             f"error is undefined; use relative=False for targets that can vanish")
        return err / (ref + self.eps)

    def _finish(self, err2: torch.Tensor, ref2: torch.Tensor) -> torch.Tensor:
        """From squared norms per (sample, channel) to the reduced loss."""
        value = self._relative(err2.sqrt(), ref2.sqrt()) if self.relative else err2.sqrt()
        return _reduce(value.mean(-1), self.reduction)


class LpLoss(_FieldLoss):
    """``||pred - target||_p`` over the last ``d`` axes (``d=None``: every axis after
    batch and channel), per sample and channel; ``p`` in ``[1, inf]``.

    Relative (default): ``||e||_p / (||y||_p + eps)`` with plain sums (the quadrature
    weight cancels). Absolute: ``(h sum |e|^p)^(1/p)``, ``h = prod(L_i / n_i)``. Then the
    mean over channels and ``reduction`` over the batch. With one channel this equals
    neuraloperator's ``LpLoss(d, p)`` (relative, summed).
    """

    def __init__(self, p: float = 2, d: int | None = None, relative: bool = True, reduction: str = "sum",
                 lengths: Sequence[float] | float | None = None, eps: float = 1e-12):
        super().__init__(d, relative, reduction, lengths, eps)
        self.p = math.inf if p == math.inf else check_real("p", p, minimum=1)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        d = _check(pred, target, self.d)
        e = (pred - target).flatten(-d).flatten(1, -2)  # (batch, channels, points)
        y = target.flatten(-d).flatten(1, -2)
        p = self.p
        err = torch.linalg.vector_norm(e, ord=p, dim=-1)
        if self.relative:
            ref = torch.linalg.vector_norm(y, ord=p, dim=-1)
            return _reduce(self._relative(err, ref).mean(-1), self.reduction)
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
    (``method="spectral"``, the default there, exact on the resolved modes) or central
    differences (``"fd"``, as neuraloperator). ``periodic=False`` (grid ``x_i = i L / (n -
    1)``, boundary included, e.g. Dirichlet Darcy): ``"fd"`` (the default there and the
    only choice), second-order central differences inside and one-sided three-point
    stencils on the boundary, never wrap-around. Absolute norms use the Riemann weight
    ``prod(L_i / n_i)``.
    """

    def __init__(self, d: int | None = None, periodic: bool = True, method: str | None = None,
                 relative: bool = True, reduction: str = "sum", lengths: Sequence[float] | float | None = None,
                 eps: float = 1e-12):
        super().__init__(d, relative, reduction, lengths, eps)
        if not isinstance(periodic, bool):
            raise ArgumentTypeError(f"periodic must be True or False, got {periodic!r} ({type(periodic).__name__})")
        method = ("spectral" if periodic else "fd") if method is None else check_choice("method", method,
                                                                                         ("spectral", "fd"))
        if method == "spectral" and not periodic:
            raise ValueError("spectral gradients need periodic fields; use method='fd' for periodic=False")
        self.periodic, self.method = periodic, method

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
    ``target`` by default. ``|k|`` are angular wavenumbers ``2 pi m / L``; ``shift >= 0``.

    ``wavenumber_cutoff=K`` (a positive int) reproduces the truncation of the FNO/MgNO
    ``HsLoss``: a wavenumber component with ``|m_i| >= K`` counts as 0 in ``|k|^2`` (the
    mode is kept with a smaller weight). MgNO's H1 training loss is ``HsLoss(s=1, shift=1,
    lengths=2 pi, wavenumber_cutoff=20)`` (integer wavenumbers); the Spectral-Refiner's
    ``H^-1`` norm is ``s=-1, shift=10**-1.5``.
    """

    def __init__(self, s: float = 1.0, d: int | None = None, shift: float = 1.0, relative: bool = True,
                 reduction: str = "sum", lengths: Sequence[float] | float | None = None,
                 wavenumber_cutoff: int | None = None, eps: float = 1e-12):
        super().__init__(d, relative, reduction, lengths, eps)
        s = check_real("s", s)
        shift = check_real("shift", shift, nonnegative=True)
        if s < 0 and not shift > 0:
            raise ValueError(f"negative s needs shift > 0 (the mean mode), got shift={shift}")
        if wavenumber_cutoff is not None:
            wavenumber_cutoff = check_int("wavenumber_cutoff", wavenumber_cutoff)
        self.s, self.shift, self.cutoff = s, shift, wavenumber_cutoff

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
