"""Latent Spectral Models (Wu, Hu, Luo, Wang & Long, ICML 2023, arXiv 2301.12664), in 2-D
and 3-D (``ndim``).

A five-scale U-Net (double 3x3 convolutions with batch norm and ReLU; max-pool down,
bilinear up) whose every skip connection and bottleneck passes through a *neural
spectral block*:

1. patchify the field into ``patch x patch`` pieces (every scale uses the same patch
   size, so the padded grid must be a multiple of ``16 * patch``);
2. encoder: ``M`` learned latent tokens per head attend to the patch's pixels,
   ``Z <- softmax(Z K^T) V + Z`` with ``K, V`` a 1x1 convolution of the pixels (8 heads,
   no ``1/sqrt(d)`` scaling, as the reference);
3. latent spectral transition, elementwise on the token values,
   ``z <- z + sum_{m < B} a_{c,m} sin(m pi z / B) + b_{c,m} cos(m pi z / B)``;
4. decoder: each pixel attends over the ``M`` tokens, ``x <- softmax(Q Z^T) Z + x``.

Input ``(batch, in_channels, H, W)``: grid coordinates on ``[0, 1]^2`` are appended, a
pointwise linear map lifts to ``width`` channels, the field is zero-padded on the
high side by ``padding = (pad_H, pad_W)``, and after the U-Net and a 1x1 convolution the
padding is cropped and a pointwise MLP (``width -> 128 -> out``, GELU) gives the output.
The reference Darcy configuration (width 64, patch 6, padding 11 for 85^2 data,
12 basis functions, 4 tokens) has 19,187,457 trainable parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sciml.train.spec import record_spec
from sciml.validation import check_int, check_model_input

__all__ = ["LSM", "NeuralSpectralBlock"]


_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}


def _double_conv(c_in: int, c_out: int, c_mid: int | None = None, ndim: int = 2) -> nn.Sequential:
    c_mid = c_mid or c_out
    conv, norm = _CONV[ndim], _NORM[ndim]
    return nn.Sequential(conv(c_in, c_mid, 3, padding=1, bias=False), norm(c_mid), nn.ReLU(),
                         conv(c_mid, c_out, 3, padding=1, bias=False), norm(c_out), nn.ReLU())


def _as_tuple(name: str, v, ndim: int, minimum: int = 1) -> tuple[int, ...]:
    """``v`` (one int, or one per axis) as ``ndim`` ints ``>= minimum``."""
    values = tuple(v) if isinstance(v, (tuple, list)) else (v,) * ndim
    if len(values) != ndim:
        raise ValueError(f"{name} must be one int or {ndim} ints (one per axis), got {v!r}")
    return tuple(check_int(f"{name}[{i}]", x, minimum=minimum) for i, x in enumerate(values))


class NeuralSpectralBlock(nn.Module):
    """Patchwise latent attention with a sin/cos basis transition (see the module docstring);
    ``patch`` is a side or one side per axis, ``ndim`` 2 or 3."""

    def __init__(self, channels: int, num_basis: int = 12, num_token: int = 4, patch=6, heads: int = 8,
                 ndim: int = 2):
        super().__init__()
        channels, heads = check_int("channels", channels), check_int("heads", heads)
        num_basis, num_token = check_int("num_basis", num_basis), check_int("num_token", num_token)
        ndim = check_int("ndim", ndim, minimum=2, maximum=3)
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be a multiple of heads ({heads})")
        self.channels, self.num_basis, self.num_token, self.heads = channels, num_basis, num_token, heads
        self.ndim, self.patch = ndim, _as_tuple("patch", patch, ndim)
        self.weights = nn.Parameter(torch.rand(channels, 2 * num_basis) / channels)
        self.latent = nn.Parameter(torch.rand(heads, num_token, channels // heads) / channels)
        self.to_kv = _CONV[ndim](channels, 2 * channels, 1)
        self.to_q = _CONV[ndim](channels, channels, 1)
        self.register_buffer("frequencies", torch.arange(num_basis, dtype=torch.float32) / num_basis,
                             persistent=False)
        self.last_attention = None  # (encoder, decoder) weights of the last call when record_attention

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, *patch) -> (N, heads, pixels, C/heads)``."""
        n, c = x.shape[:2]
        return x.reshape(n, self.heads, c // self.heads, -1).transpose(-1, -2)

    def transition(self, z: torch.Tensor) -> torch.Tensor:
        """``z + sum_m a sin(m pi z / B) + b cos(m pi z / B)`` for tokens ``(N, C, M)``."""
        arg = math.pi * z.unsqueeze(-1) * self.frequencies.to(z)
        basis = torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)  # (N, C, M, 2B)
        return z + torch.einsum("ncmk,ck->ncm", basis, self.weights)

    def forward(self, x: torch.Tensor, record_attention: bool = False) -> torch.Tensor:
        b, c, *sizes = x.shape
        d, p = self.ndim, self.patch
        if len(sizes) != d or any(n % q for n, q in zip(sizes, p)):
            raise ValueError(f"a field of size {tuple(sizes)} does not split into {p} patches")
        counts = [n // q for n, q in zip(sizes, p)]
        split = [v for pair in zip(counts, p) for v in pair]  # (n1, p1, n2, p2, ...)
        order = [0] + [2 + 2 * i for i in range(d)] + [1] + [3 + 2 * i for i in range(d)]
        patches = x.reshape(b, c, *split).permute(order).reshape(-1, c, *p)
        k, v = self.to_kv(patches).chunk(2, dim=1)
        k, v = self._heads(k), self._heads(v)  # (N, heads, L, d)
        latent = self.latent.unsqueeze(0)  # (1, heads, M, d)
        enc = torch.softmax(latent @ k.transpose(-1, -2), dim=-1)  # over the pixels
        tokens = enc @ v + latent  # (N, heads, M, d)
        n = tokens.shape[0]
        z = self.transition(tokens.transpose(-1, -2).reshape(n, c, self.num_token))
        tokens = z.reshape(n, self.heads, c // self.heads, self.num_token).transpose(-1, -2)
        q = self._heads(self.to_q(patches))  # (N, heads, L, d)
        dec = torch.softmax(q @ tokens.transpose(-1, -2), dim=-1)  # over the tokens
        out = (dec @ tokens).transpose(-1, -2).reshape(n, c, *p) + patches
        if record_attention:
            self.last_attention = (enc.detach(), dec.detach())
        inverse = [0] + [1 + d] + [v for i in range(d) for v in (1 + i, 2 + d + i)]
        return out.reshape(b, *counts, c, *p).permute(inverse).reshape(b, c, *sizes)


class _Up(nn.Module):
    def __init__(self, c_in: int, c_out: int, ndim: int):
        super().__init__()
        self.conv = _double_conv(c_in, c_out, c_in // 2, ndim)
        self.mode = "bilinear" if ndim == 2 else "trilinear"

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(coarse, scale_factor=2, mode=self.mode, align_corners=True)
        pad = []
        for axis in range(skip.dim() - 1, 1, -1):  # F.pad lists the last axis first
            diff = skip.shape[axis] - up.shape[axis]
            pad += [diff // 2, diff - diff // 2]
        return self.conv(torch.cat([skip, F.pad(up, pad)], dim=1))


@record_spec("lsm")
class LSM(nn.Module):
    """Latent Spectral Model: ``(batch, in_channels, *space) -> (batch, out_channels, *space)``
    with ``ndim`` = 2 or 3 space axes.

    Args:
        width: channels of the finest scale (scales carry ``w, 2w, 4w, 8w, 8w``); a multiple
            of the 8 attention heads.
        patch: patch side (or one per axis) of the spectral blocks; every padded side must
            be a multiple of ``16 * patch`` (five scales, the coarsest one patch wide).
        padding: zero padding on the high side of each axis (reference Darcy: 11, 11).
        num_basis, num_token: the transition's basis size and latent tokens per head.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 64, patch=6, padding=(11, 11),
                 num_basis: int = 12, num_token: int = 4, ndim: int = 2):
        super().__init__()
        ndim = check_int("ndim", ndim, minimum=2, maximum=3)
        width = check_int("width", width)
        if width % 8:
            raise ValueError(f"width must be a multiple of the 8 attention heads, got {width}")
        in_channels, out_channels = check_int("in_channels", in_channels), check_int("out_channels", out_channels)
        num_basis, num_token = check_int("num_basis", num_basis), check_int("num_token", num_token)
        self.in_channels, self.ndim = in_channels, ndim
        self.patch, self.padding = _as_tuple("patch", patch, ndim), _as_tuple("padding", padding, ndim, minimum=0)
        w, conv = width, _CONV[ndim]
        self.lift = conv(in_channels + ndim, w, 1)
        self.inc = _double_conv(w, w, ndim=ndim)
        widths = [w, 2 * w, 4 * w, 8 * w, 8 * w]
        self.down = nn.ModuleList([nn.Sequential(_POOL[ndim](2), _double_conv(widths[i], widths[i + 1], ndim=ndim))
                                   for i in range(4)])
        self.up = nn.ModuleList([_Up(16 * w, 4 * w, ndim), _Up(8 * w, 2 * w, ndim), _Up(4 * w, w, ndim),
                                 _Up(2 * w, w, ndim)])
        self.blocks = nn.ModuleList([NeuralSpectralBlock(c, num_basis, num_token, self.patch, ndim=ndim)
                                     for c in widths])
        self.out = conv(w, w, 1)
        self.head = nn.Sequential(conv(w, 128, 1), nn.GELU(), conv(128, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.ndim
        check_model_input("LSM", x, layout=f"(batch, {self.in_channels}, {', '.join('HWD'[:d])})", ndim=d + 2,
                          channels=self.in_channels, dtype=self.out.weight.dtype)
        b, sizes = x.shape[0], x.shape[2:]
        padded = [n + q for n, q in zip(sizes, self.padding)]
        units = [16 * p for p in self.patch]
        if any(n % u for n, u in zip(padded, units)):
            raise ValueError(f"the padded grid {' x '.join(f'({n} + {q})' for n, q in zip(sizes, self.padding))} must "
                             f"be a multiple of 16 x patch = {' x '.join(map(str, units))} per axis (five scales, "
                             f"the coarsest one patch wide); e.g. padding {tuple(-n % u for n, u in zip(sizes, units))}")
        grids = []
        for axis, n in enumerate(sizes):
            shape = [1, 1] + [1] * d
            shape[2 + axis] = n
            grids.append(torch.linspace(0, 1, n, dtype=x.dtype, device=x.device).view(shape).expand(b, 1, *sizes))
        pad = [v for q in reversed(self.padding) for v in (0, q)]
        u = F.pad(self.lift(torch.cat([x, *grids], dim=1)), pad)
        skips = [self.inc(u)]
        for down in self.down:
            skips.append(down(skips[-1]))
        u = self.blocks[4](skips[4])
        for level, up in zip((3, 2, 1, 0), self.up):
            u = up(u, self.blocks[level](skips[level]))
        u = self.out(u)[(Ellipsis,) + tuple(slice(0, n) for n in sizes)]
        return self.head(u)
