"""Latent Spectral Models (Wu, Hu, Luo, Wang & Long, ICML 2023, arXiv 2301.12664), 2-D.

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

__all__ = ["LSM", "NeuralSpectralBlock"]


def _double_conv(c_in: int, c_out: int, c_mid: int | None = None) -> nn.Sequential:
    c_mid = c_mid or c_out
    return nn.Sequential(nn.Conv2d(c_in, c_mid, 3, padding=1, bias=False), nn.BatchNorm2d(c_mid), nn.ReLU(),
                         nn.Conv2d(c_mid, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class NeuralSpectralBlock(nn.Module):
    """Patchwise latent attention with a sin/cos basis transition (see the module docstring)."""

    def __init__(self, channels: int, num_basis: int = 12, num_token: int = 4, patch: int = 6, heads: int = 8):
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be a multiple of heads ({heads})")
        self.channels, self.num_basis, self.num_token, self.patch, self.heads = channels, num_basis, num_token, \
            patch, heads
        self.weights = nn.Parameter(torch.rand(channels, 2 * num_basis) / channels)
        self.latent = nn.Parameter(torch.rand(heads, num_token, channels // heads) / channels)
        self.to_kv = nn.Conv2d(channels, 2 * channels, 1)
        self.to_q = nn.Conv2d(channels, channels, 1)
        self.register_buffer("frequencies", torch.arange(num_basis, dtype=torch.float32) / num_basis,
                             persistent=False)
        self.last_attention = None  # (encoder, decoder) weights of the last call when record_attention

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, p, p) -> (N, heads, p*p, C/heads)``."""
        n, c = x.shape[:2]
        return x.reshape(n, self.heads, c // self.heads, -1).transpose(-1, -2)

    def transition(self, z: torch.Tensor) -> torch.Tensor:
        """``z + sum_m a sin(m pi z / B) + b cos(m pi z / B)`` for tokens ``(N, C, M)``."""
        arg = math.pi * z.unsqueeze(-1) * self.frequencies.to(z)
        basis = torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)  # (N, C, M, 2B)
        return z + torch.einsum("ncmk,ck->ncm", basis, self.weights)

    def forward(self, x: torch.Tensor, record_attention: bool = False) -> torch.Tensor:
        b, c, h, w = x.shape
        p = self.patch
        if h % p or w % p:
            raise ValueError(f"a {h}x{w} field does not split into {p}x{p} patches")
        patches = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(-1, c, p, p)
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
        out = (dec @ tokens).transpose(-1, -2).reshape(n, c, p, p) + patches
        if record_attention:
            self.last_attention = (enc.detach(), dec.detach())
        return out.reshape(b, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)


class _Up(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = _double_conv(c_in, c_out, c_in // 2)

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=True)
        dh, dw = skip.shape[-2] - up.shape[-2], skip.shape[-1] - up.shape[-1]
        up = F.pad(up, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
        return self.conv(torch.cat([skip, up], dim=1))


class LSM(nn.Module):
    """Latent Spectral Model, 2-D: ``(batch, in_channels, H, W) -> (batch, out_channels, H, W)``.

    Args:
        width: channels of the finest scale (scales carry ``w, 2w, 4w, 8w, 8w``).
        patch: patch side of the spectral blocks; ``H + pad_H`` and ``W + pad_W`` must be
            multiples of ``16 * patch``.
        padding: ``(pad_H, pad_W)`` zero padding on the high side (reference Darcy: 11, 11).
        num_basis, num_token: the transition's basis size and latent tokens per head.
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, width: int = 64, patch: int = 6,
                 padding: tuple[int, int] = (11, 11), num_basis: int = 12, num_token: int = 4):
        super().__init__()
        self.in_channels, self.patch, self.padding = in_channels, patch, (int(padding[0]), int(padding[1]))
        w = width
        self.lift = nn.Conv2d(in_channels + 2, w, 1)
        self.inc = _double_conv(w, w)
        widths = [w, 2 * w, 4 * w, 8 * w, 8 * w]
        self.down = nn.ModuleList([nn.Sequential(nn.MaxPool2d(2), _double_conv(widths[i], widths[i + 1]))
                                   for i in range(4)])
        self.up = nn.ModuleList([_Up(16 * w, 4 * w), _Up(8 * w, 2 * w), _Up(4 * w, w), _Up(2 * w, w)])
        self.blocks = nn.ModuleList([NeuralSpectralBlock(c, num_basis, num_token, patch) for c in widths])
        self.out = nn.Conv2d(w, w, 1)
        self.head = nn.Sequential(nn.Conv2d(w, 128, 1), nn.GELU(), nn.Conv2d(128, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"LSM expects (batch, {self.in_channels}, H, W), got {tuple(x.shape)}")
        b, _, h, w = x.shape
        (ph, pw), unit = self.padding, 16 * self.patch
        if (h + ph) % unit or (w + pw) % unit:
            raise ValueError(f"the padded grid ({h} + {ph}) x ({w} + {pw}) must be a multiple of 16 x patch = {unit} "
                             f"per side (five scales, the coarsest one patch wide); e.g. padding "
                             f"({-h % unit}, {-w % unit})")
        gx = torch.linspace(0, 1, h, dtype=x.dtype, device=x.device).view(1, 1, h, 1).expand(b, 1, h, w)
        gy = torch.linspace(0, 1, w, dtype=x.dtype, device=x.device).view(1, 1, 1, w).expand(b, 1, h, w)
        u = F.pad(self.lift(torch.cat([x, gx, gy], dim=1)), [0, pw, 0, ph])
        skips = [self.inc(u)]
        for down in self.down:
            skips.append(down(skips[-1]))
        u = self.blocks[4](skips[4])
        for level, up in zip((3, 2, 1, 0), self.up):
            u = up(u, self.blocks[level](skips[level]))
        u = self.out(u)[..., :h, :w]
        return self.head(u)
