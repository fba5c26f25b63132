"""SFNO: the spatiotemporal Fourier neural operator of the Spectral-Refiner (Cao,
Brarda, Li & Xi, ICLR 2025, arXiv 2405.17211).

A trajectory-to-trajectory map in the layout of every space-time model of sciml
(DESIGN.md, neuraloperator's): ``(batch, channels, T_in, x, y)`` frames to
``(batch, channels, T_out, x, y)`` for any ``T_out`` (the paper: one channel, the
vorticity). Time is a third Fourier axis, not a channel, so neither the input nor the
output length is baked into the weights.

* Lifting: the input ``(b, c, T_in, x, y)``, each field added to ``width / c`` of the
  ``width`` channels of a positional encoding (``x``, ``y``, ``t`` and ``width - 3``
  time features ``e^(beta t) sin / cos(pi k t)``; with one field, to all of them), a
  one-group GroupNorm, a 1x1x1 convolution, then a space-time spectral convolution
  whose inverse transform is taken at ``latent_steps`` frames (the temporal
  resampling), a pointwise FFN, and ``v = act(p[:, :, -1:] + FFN(K p))`` with ``p``
  the projected input (its last frame broadcast over time).
* ``n_layers - 1`` blocks ``v = act(FFN(K v) + W v)`` (``K`` spectral, ``W`` 1x1x1).
* A 1x1x1 reduction to ``c`` channels and the output convolution (:class:`OutputConv`):
  the last input frame is prepended along time, the sequence is zero-padded in front
  by its own length (against the wrap-around of a non-periodic window), a c->c
  spectral convolution with a ``delta``-scaled complex per-mode bias is evaluated at
  ``out_steps + 1`` frames (plus the padding), and the last input frame is added to
  the last ``out_steps`` of them.

Spectral convolutions (:class:`SpaceTimeSpectralConv`) keep ``modes = (mx, my, mt)``
per corner: ``|kx| < mx`` and ``|ky| < my`` in the four (+-kx, +-ky) blocks, with
``0 <= kt < mt`` from a real FFT over time (axis 2); weights are real tensors of shape
``(4, c_in, c_out, mx, my, mt, 2)`` initialised ``0.5 / (c_in c_out) U(0, 1)``. Modes
beyond a grid's Nyquist limit are dropped at evaluation, so any resolution works.

Two deliberate differences from the reference code (torch-cfd ``fno/sfno.py``), both
about evaluating at sizes other than the training ones:

* Transforms use ``norm="forward"`` (Fourier coefficients are averages). For weights
  this is identical to the reference's ``"backward"`` whenever input and output sizes
  agree; but it makes a temporal resampling from ``T`` to ``T'`` frames preserve
  amplitudes, and the bias a resolution-independent source term (with ``"backward"``
  its effect shrinks like ``1 / (n_x n_y n_t)``, 16x weaker at 256^2 than at 64^2).
* The positional coordinates are the periodic grid ``x_i = i / n`` (the reference uses
  ``linspace(0, 1, n)``, which places the same index at different points on
  different grids).

``SFNO(modes=(12, 12, 5), width=20)`` (the paper's FNO-data configuration) has
9,242,461 parameters, the count of the reference code's current revision (its
notebook prints 9,250,333 from an earlier revision).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from sciml.nn import ACTIVATIONS
from sciml.train.spec import record_spec
from sciml.validation import ArgumentTypeError, check_choice, check_int, check_model_input, check_real

__all__ = ["OutputConv", "SFNO", "SpaceTimeSpectralConv"]


def _modes(modes) -> tuple[int, int, int]:
    """``(mx, my, mt)``: three positive ints."""
    if not isinstance(modes, (tuple, list)) or len(modes) != 3:
        raise ValueError(f"modes must be three positive ints (mx, my, mt), got {modes!r}")
    return tuple(check_int(f"modes[{i}]", m, hint="modes must be three positive ints (mx, my, mt)")
                 for i, m in enumerate(modes))


def _corners(modes_x: int, modes_y: int) -> list[tuple[slice, slice]]:
    """Index slices of the four (+-kx, +-ky) blocks, in the weight layout order."""
    sx = (slice(0, modes_x), slice(-modes_x, None))
    sy = (slice(0, modes_y), slice(-modes_y, None))
    return [(sx[c % 2], sy[c // 2]) for c in range(4)]


class SpaceTimeSpectralConv(nn.Module):
    """``(b, c_in, T, x, y) -> (b, c_out, T_out, x, y)`` through the kept Fourier modes.

    Args:
        in_channels, out_channels: channel counts.
        modes: ``(mx, my, mt)`` modes per corner (see the module docstring).
        bias: a complex per-mode bias shared by the output channels, scaled by ``delta``.
        delta: the bias scale.
    """

    def __init__(self, in_channels: int, out_channels: int, modes: Sequence[int], bias: bool = False,
                 delta: float = 1.0):
        super().__init__()
        modes = _modes(modes)
        in_channels, out_channels = check_int("in_channels", in_channels), check_int("out_channels", out_channels)
        delta = check_real("delta", delta)
        self.in_channels, self.out_channels, self.modes, self.delta = in_channels, out_channels, modes, delta
        scale = 0.5 / (in_channels * out_channels)
        self.weight = nn.Parameter(scale * torch.rand(4, in_channels, out_channels, *modes, 2))
        self.bias = nn.Parameter(torch.zeros(4, *modes, 2)) if bias else None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, modes={self.modes}, "
                f"bias={self.bias is not None}, delta={self.delta}")

    def forward(self, v: torch.Tensor, out_steps: int | None = None, time_padding: int = 0) -> torch.Tensor:
        """``out_steps`` output frames (default: the input's); ``time_padding`` zeros are
        prepended along time before the transform, and only the last ``out_steps``
        frames of the padded result are returned.

        The transform is a real FFT over time (axis 2, ``kt >= 0``) and full FFTs over
        ``x`` and ``y``; ``v_hat`` is ``(b, c_in, kt, kx, ky)``."""
        b, c, nt, nx, ny = v.shape
        if c != self.in_channels:
            raise ValueError(f"expected {self.in_channels} channels, got {c}")
        out_steps = nt if out_steps is None else int(out_steps)
        if time_padding:
            v = F.pad(v, (0, 0, 0, 0, time_padding, 0))
        n_pad = v.shape[2]
        v_hat = torch.fft.rfftn(v, dim=(-2, -1, -3), norm="forward")
        mx, my = min(self.modes[0], nx // 2), min(self.modes[1], ny // 2)
        mt = min(self.modes[2], n_pad // 2 + 1, (out_steps + time_padding) // 2 + 1)
        out = v_hat.new_zeros(b, self.out_channels, mt, nx, ny)
        weight = torch.view_as_complex(self.weight)
        bias = None if self.bias is None else self.delta * torch.view_as_complex(self.bias)
        for corner, (sx, sy) in enumerate(_corners(mx, my)):
            w = _trim(weight[corner][..., :mt], mx, my, corner)
            block = torch.einsum("bitxy,ioxyt->botxy", v_hat[:, :, :mt, sx, sy], w)
            if bias is not None:
                block = block + _trim(bias[corner][..., :mt], mx, my, corner).permute(2, 0, 1)
            out[..., sx, sy] = block
        v = torch.fft.irfftn(out, s=(nx, ny, out_steps + time_padding), dim=(-2, -1, -3), norm="forward")
        return v[:, :, -out_steps:] if time_padding else v


def _trim(w: torch.Tensor, mx: int, my: int, corner: int) -> torch.Tensor:
    """The entries of a full-size corner block (last three axes ``(mx0, my0, mt)``) that
    a grid with only ``mx x my`` modes per corner uses: the lowest frequencies, which
    sit at the start of a positive block and at the end of a negative one."""
    x0, y0 = w.shape[-3], w.shape[-2]
    xs = slice(0, mx) if corner % 2 == 0 else slice(x0 - mx, x0)
    ys = slice(0, my) if corner // 2 == 0 else slice(y0 - my, y0)
    return w[..., xs, ys, :]


class _FFN(nn.Sequential):
    def __init__(self, width: int, expansion: int, activation: str):
        super().__init__(nn.Conv3d(width, expansion * width, 1), ACTIVATIONS[activation](),
                         nn.Conv3d(expansion * width, width, 1))


class OutputConv(nn.Module):
    """The last layer: ``(b, c, T_latent, x, y)`` latent and ``(b, c, T_in, x, y)`` input
    to ``(b, c, out_steps, x, y)``; see the module docstring."""

    def __init__(self, modes: Sequence[int], delta: float = 0.1, time_padding: bool = True, channels: int = 1):
        super().__init__()
        self.conv = SpaceTimeSpectralConv(channels, channels, modes, bias=True, delta=delta)
        self.time_padding = time_padding

    def forward(self, latent: torch.Tensor, x: torch.Tensor, out_steps: int) -> torch.Tensor:
        last = x[:, :, -1:]
        v = torch.cat([last, latent], dim=2)
        pad = v.shape[2] if self.time_padding else 0
        v = self.conv(v, out_steps=out_steps + 1, time_padding=pad)
        return last + v[:, :, -out_steps:]


@record_spec("sfno")
class SFNO(nn.Module):
    """The spatiotemporal FNO (see the module docstring).

    Args:
        modes: ``(mx, my, mt)`` Fourier modes per corner of every spectral convolution.
        width: hidden channels (also the number of positional-encoding channels, > 3).
        channels: fields per frame, in and out (the prediction continues the input
            trajectory from its last frame, so both have the same fields).
        n_layers: spectral convolutions before the output layer, the lifting's included.
        latent_steps: frames of the hidden trajectory.
        out_steps: default output length (``None``: the input's).
        beta: exponential rate of the time features (the paper: 1e-2 for forced
            Navier–Stokes, -1e-2 for decaying turbulence).
        delta: scale of the output layer's spectral bias.
        expansion: channel expansion of the pointwise FFNs.
        activation: ``"relu"`` (the paper's), ``"gelu"``, ``"silu"`` or ``"tanh"``.
        time_padding: zero-pad time in the output layer (recommended).
        pe_dt: positional time of frame ``j`` (``j = 1, 2, ...``) is ``j * pe_dt``.
    """

    def __init__(self, modes: Sequence[int] = (12, 12, 5), width: int = 20, channels: int = 1, n_layers: int = 4,
                 latent_steps: int = 10, out_steps: int | None = None, beta: float = 1e-2, delta: float = 0.1,
                 expansion: int = 4, activation: str = "relu", time_padding: bool = True, pe_dt: float = 0.01):
        super().__init__()
        width = check_int("width", width, minimum=4, hint="x, y, t and at least one time feature")
        channels = check_int("channels", channels, maximum=width, hint="each field enters the lifting through "
                             "its own positional-encoding channels")
        n_layers = check_int("n_layers", n_layers)
        latent_steps = check_int("latent_steps", latent_steps)
        expansion = check_int("expansion", expansion)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        if out_steps is not None:
            out_steps = check_int("out_steps", out_steps)
        modes = _modes(modes)
        beta, delta = check_real("beta", beta), check_real("delta", delta)
        pe_dt = check_real("pe_dt", pe_dt, positive=True)
        if not isinstance(time_padding, bool):
            raise ArgumentTypeError(f"time_padding must be True or False, got {time_padding!r}")
        self.modes, self.width, self.latent_steps, self.out_steps = tuple(modes), width, latent_steps, out_steps
        self.channels = channels
        self.beta, self.pe_dt = float(beta), float(pe_dt)
        act = ACTIVATIONS[activation]
        self.norm = nn.GroupNorm(1, width, eps=1e-7)
        self.lift = nn.Conv3d(width, width, 1)
        self.lift_conv = SpaceTimeSpectralConv(width, width, modes)
        self.lift_ffn = _FFN(width, expansion, activation)
        self.convs = nn.ModuleList(SpaceTimeSpectralConv(width, width, modes) for _ in range(n_layers - 1))
        self.ffns = nn.ModuleList(_FFN(width, expansion, activation) for _ in range(n_layers - 1))
        self.skips = nn.ModuleList(nn.Conv3d(width, width, 1) for _ in range(n_layers - 1))
        self.act = act()
        self.reduction = nn.Conv3d(width, channels, 1)
        self.output = OutputConv(modes, delta=delta, time_padding=time_padding, channels=channels)

    def positional_encoding(self, nt: int, nx: int, ny: int, dtype=torch.float32, device=None) -> torch.Tensor:
        """``(1, width, nt, nx, ny)``: x, y, t and the time features."""
        x = torch.arange(nx, dtype=dtype, device=device) / nx
        y = torch.arange(ny, dtype=dtype, device=device) / ny
        t = torch.arange(1, nt + 1, dtype=dtype, device=device) * self.pe_dt
        channels = [x.view(1, nx, 1).expand(nt, nx, ny), y.view(1, 1, ny).expand(nt, nx, ny),
                    t.view(nt, 1, 1).expand(nt, nx, ny)]
        growth = torch.exp(self.beta * t)
        for k in range(self.width - 3):
            wave = torch.sin if k % 2 == 0 else torch.cos
            channels.append((growth * wave(math.pi * (k + 1) * t)).view(nt, 1, 1).expand(nt, nx, ny))
        return torch.stack(channels)[None]

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[1] != self.channels:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"SFNO expects (batch, channels={self.channels}, T_in, x, y) frames, got {shape}; "
                             f"a trajectory (batch, T_in, x, y) of one field is x[:, None]")
        check_model_input("SFNO", x, layout=f"(batch, channels={self.channels}, T_in, x, y)", ndim=5,
                          channels=self.channels, dtype=self.lift.weight.dtype)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """Everything before the output layer: ``(b, c, T_in, x, y) -> (b, c, latent_steps, x, y)``."""
        self._check_input(x)
        _, c, nt, nx, ny = x.shape
        fields = x.repeat(1, -(-self.width // c), 1, 1, 1)[:, :self.width] if c > 1 else x
        v = fields + self.positional_encoding(nt, nx, ny, x.dtype, x.device)
        p = self.lift(self.norm(v))
        v = self.act(p[:, :, -1:] + self.lift_ffn(self.lift_conv(p, out_steps=self.latent_steps)))
        for conv, ffn, skip in zip(self.convs, self.ffns, self.skips):
            v = self.act(ffn(conv(v)) + skip(v))
        return self.reduction(v)

    def forward(self, x: torch.Tensor, out_steps: int | None = None) -> torch.Tensor:
        """``(b, c, T_in, x, y) -> (b, c, out_steps, x, y)`` (default ``self.out_steps``, else ``T_in``)."""
        self._check_input(x)
        if out_steps is None:  # not checked: under tracing the input length is a tensor
            out_steps = self.out_steps if self.out_steps is not None else x.shape[2]
        else:
            out_steps = check_int("out_steps", out_steps)
        return self.output(self.trunk(x), x, out_steps)
