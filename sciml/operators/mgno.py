"""MgNO: neural operators whose linear maps are multigrid V-cycles (He, Liu & Xu,
ICLR 2024, arXiv 2310.19809).

A layer is ``u <- sigma(W u + K u + b)``: ``W`` one multi-channel V-cycle
(:class:`MgConv`), ``K`` a 1x1 convolution with bias. The V-cycle acts on a pair
``(u, f)``: ``f`` is the layer's input (``c_f`` channels) and ``u`` the state (``c_u``
channels); every convolution in it is a bias-free 3x3 convolution whose padding mode is
the boundary condition (``"zeros"`` Dirichlet, ``"circular"`` periodic, ``"reflect"``):

* level 0, first step ``u = S(f)``; every further smoothing step, on every level,
  ``u <- u + S(f - A u)`` with its own ``A`` (``c_u -> c_f``) and ``S`` (``c_f -> c_u``);
* down: ``u <- Pi(u)`` and ``f <- R(f)``, learned stride-2 convolutions (or, with
  ``residual_restriction=True``, ``f <- R(f - A u)``);
* up: ``u_l <- u_l + P(u_{l+1})``, learned transposed convolutions (kernel 4 where the
  finer grid is even, kernel 3 where it is odd, as in the reference code for 211^2 data),
  then the level's post-smoothing steps.

Nothing non-linear happens inside the cycle. There is no lifting (the first cycle
takes the raw input as ``f``) and the head is a bias-free 1x1 convolution.
``num_iteration[l] = (pre, post)`` per level; the reference Darcy model has six levels
``[(1, 0)] * 5 + [(2, 0)]``, 24 channels and 4 layers: 572,661 parameters.

Grids of any size work: the stride-2 convolution maps ``n -> ceil(n / 2)``, and a
prolongation whose output misses the finer size by one (a model built for another
parity pattern, e.g. evaluated zero-shot at another resolution) is cropped or padded
by one node. ``periodic_prolongation`` (default on for circular padding) wraps the
transposed convolution around the torus, so the whole cycle commutes with shifts by
``2^(levels - 1)`` nodes; the reference code's zero-padded prolongation does not.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sciml.train.spec import record_spec
from sciml.validation import check_choice, check_int, check_model_input

__all__ = ["MgConv", "MgNO"]

_PADDINGS = ("zeros", "circular", "reflect")


def _conv(c_in: int, c_out: int, padding_mode: str, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, padding_mode=padding_mode)


def _sizes(n: int, levels: int) -> list[int]:
    out = [n]
    for _ in range(levels - 1):
        out.append(math.ceil(out[-1] / 2))
    return out


class MgConv(nn.Module):
    """One linear multi-channel V-cycle ``f -> u`` (see the module docstring).

    Args:
        in_channels: ``c_f``. channels: ``c_u``.
        num_iteration: ``(pre, post)`` smoothing steps per level, finest first.
        padding_mode: boundary condition of every 3x3 convolution.
        periodic_prolongation: wrap the transposed convolutions around the torus
            (default: ``padding_mode == "circular"``).
        residual_restriction: restrict ``f - A u`` instead of ``f``.
        grid_size: the finest grid side the prolongation kernels are chosen for
            (kernel 3 where a finer level is odd); default: kernel 4 everywhere.
    """

    def __init__(self, in_channels: int, channels: int, num_iteration: Sequence[Sequence[int]],
                 padding_mode: str = "zeros", periodic_prolongation: bool | None = None,
                 residual_restriction: bool = False, grid_size: int | None = None):
        super().__init__()
        check_choice("padding_mode", padding_mode, _PADDINGS)
        in_channels, channels = check_int("in_channels", in_channels), check_int("channels", channels)
        its = [tuple(it) for it in num_iteration]
        if not its or any(len(it) != 2 for it in its):
            raise ValueError(f"num_iteration must list (pre, post) >= 0 per level with pre >= 1 on level 0, "
                             f"got {num_iteration!r}")
        its = [tuple(check_int(f"num_iteration[{level}][{i}]", v, minimum=1 if level == i == 0 else 0)
                     for i, v in enumerate(it)) for level, it in enumerate(its)]
        if grid_size is not None:
            grid_size = check_int("grid_size", grid_size, hint="the finest grid side, or None")
        self.levels, self.padding_mode, self.residual_restriction = len(its), padding_mode, residual_restriction
        self.periodic = padding_mode == "circular" if periodic_prolongation is None else bool(periodic_prolongation)
        c_f, c_u = in_channels, channels

        def smoothers(count: int, first_has_a: bool) -> nn.ModuleList:
            steps = nn.ModuleList()
            for i in range(count):
                step = nn.ModuleDict({"S": _conv(c_f, c_u, padding_mode)})
                if i > 0 or first_has_a:
                    step["A"] = _conv(c_u, c_f, padding_mode)
                steps.append(step)
            return steps

        self.pre = nn.ModuleList([smoothers(pre, level > 0) for level, (pre, _) in enumerate(its)])
        self.post = nn.ModuleList([smoothers(post, True) for _, post in its[:-1]])
        self.Pi = nn.ModuleList([_conv(c_u, c_u, padding_mode, 2) for _ in its[1:]])
        self.R = nn.ModuleList([_conv(c_f, c_f, padding_mode, 2) for _ in its[1:]])
        self.A_res = nn.ModuleList([_conv(c_u, c_f, padding_mode) for _ in its[1:]]) if residual_restriction else None
        sizes = _sizes(grid_size, self.levels) if grid_size else None
        kernels = [3 if sizes and sizes[level] % 2 else 4 for level in range(self.levels - 1)]
        if self.periodic and 3 in kernels:
            raise ValueError("periodic prolongation needs even grids at every level but the coarsest")
        self.P = nn.ModuleList([nn.ConvTranspose2d(c_u, c_u, k, stride=2, padding=1, bias=False) for k in kernels])

    def _fit(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Crop or pad ``x`` by at most one node per axis to ``size``."""
        dh, dw = size[0] - x.shape[-2], size[1] - x.shape[-1]
        if dh == dw == 0:
            return x
        if min(dh, dw) < -1 or max(dh, dw) > 1:
            raise RuntimeError(f"prolongation gives {tuple(x.shape[-2:])} for a level of size {size}")
        x = x[..., : min(x.shape[-2], size[0]), : min(x.shape[-1], size[1])]
        pad = (0, max(dw, 0), 0, max(dh, 0))
        return F.pad(x, pad, mode="replicate") if any(pad) else x

    def _prolong(self, level: int, coarse: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        P = self.P[level]
        if not self.periodic:
            return self._fit(P(coarse), size)
        # wrap one coarse node around each side, then keep the 2n fine nodes the p=1 layout addresses
        wrapped = F.pad(coarse, (1, 1, 1, 1), mode="circular")
        full = F.conv_transpose2d(wrapped, P.weight, stride=2)
        h, w = 2 * coarse.shape[-2], 2 * coarse.shape[-1]
        return self._fit(full[..., 3 : 3 + h, 3 : 3 + w], size)

    @staticmethod
    def _smooth(steps: nn.ModuleList, u: torch.Tensor | None, f: torch.Tensor) -> torch.Tensor:
        for step in steps:
            u = step["S"](f) if u is None else u + step["S"](f - step["A"](u))
        return u

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        us, fs = [], []
        u = None
        for level in range(self.levels):
            if level:
                if self.residual_restriction:
                    f = self.R[level - 1](f - self.A_res[level - 1](u))
                else:
                    f = self.R[level - 1](f)
                u = self.Pi[level - 1](u)
            u = self._smooth(self.pre[level], u, f)
            us.append(u)
            fs.append(f)
        for level in range(self.levels - 2, -1, -1):
            u = us[level] + self._prolong(level, u, tuple(us[level].shape[-2:]))
            u = self._smooth(self.post[level], u, fs[level])
        return u


@record_spec("mgno")
class MgNO(nn.Module):
    """The MgNO operator: ``n_layers`` of ``u <- sigma(MgConv(u) + Conv1x1(u))`` and a
    bias-free 1x1 head; maps ``(batch, in_channels, H, W)`` to ``(batch, out_channels, H, W)``.

    Defaults are the reference Darcy configuration (``MgNO_DC``: 24 channels, 4 layers,
    six levels ``[(1, 0)] * 5 + [(2, 0)]``, zero padding): 572,661 parameters with one
    input channel. ``activation`` is ``"gelu"`` (reference) or ``"relu"``; the other
    arguments go to :class:`MgConv`.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, channels: int = 24, n_layers: int = 4,
                 num_iteration: Sequence[Sequence[int]] = ((1, 0),) * 5 + ((2, 0),), padding_mode: str = "zeros",
                 periodic_prolongation: bool | None = None, residual_restriction: bool = False,
                 grid_size: int | None = None, activation: str = "gelu"):
        super().__init__()
        check_choice("activation", activation, ("gelu", "relu"))
        n_layers = check_int("n_layers", n_layers)
        in_channels, out_channels = check_int("in_channels", in_channels), check_int("out_channels", out_channels)
        channels = check_int("channels", channels)
        self.in_channels, self.activation = in_channels, activation
        self.cycles = nn.ModuleList()
        self.skips = nn.ModuleList()
        for layer in range(n_layers):
            c_f = in_channels if layer == 0 else channels
            self.cycles.append(MgConv(c_f, channels, num_iteration, padding_mode, periodic_prolongation,
                                      residual_restriction, grid_size))
            self.skips.append(nn.Conv2d(c_f, channels, 1, bias=True))
        self.head = nn.Conv2d(channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_model_input("MgNO", x, layout=f"(batch, {self.in_channels}, H, W)", ndim=4, channels=self.in_channels,
                          dtype=self.head.weight.dtype)
        act = F.gelu if self.activation == "gelu" else F.relu
        u = x
        for cycle, skip in zip(self.cycles, self.skips):
            u = act(cycle(u) + skip(u))
        return self.head(u)
