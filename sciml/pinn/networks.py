"""Networks for physics-informed learning: an MLP (:class:`sciml.nn.MLP`) on embedded
coordinates, with an optional output transform for hard constraints.

Inputs are coordinate tensors ``(N, d)`` (one column per variable, e.g. ``(x, t)``).

* :class:`PeriodicEmbedding` replaces a column ``x`` of period ``L`` by
  ``(cos 2 pi x / L, sin 2 pi x / L)``, so the network is exactly periodic in it and
  no boundary loss is needed.
* :class:`FourierFeatures` appends ``(cos 2 pi B x, sin 2 pi B x)`` with a fixed random
  Gaussian matrix ``B`` (Tancik et al. 2020), against the spectral bias of MLPs.
* ``output_transform(coords, raw) -> u`` imposes conditions exactly, e.g.
  ``u = u0(x) + t * raw`` for an initial condition (:func:`initial_condition_transform`).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from sciml.nn import MLP
from sciml.validation import ArgumentTypeError, check_callable, check_int, check_model_input, check_real, check_seed

__all__ = ["FourierFeatures", "MLP", "PINNNet", "PeriodicEmbedding", "initial_condition_transform"]


class PeriodicEmbedding(nn.Module):
    """Columns ``periods = {column: L}`` become ``(cos 2 pi x / L, sin 2 pi x / L)``; the
    other columns pass through (in order, after the embedded pairs)."""

    def __init__(self, in_dim: int, periods: dict[int, float]):
        super().__init__()
        in_dim = check_int("in_dim", in_dim)
        if not isinstance(periods, dict) or not periods or any(isinstance(c, bool) or not isinstance(c, int)
                                                                for c in periods):
            raise ValueError(f"periods must map columns in [0, {in_dim}) to positive periods, got {periods!r}")
        periods = {c: check_real(f"periods[{c}]", p, positive=True) for c, p in periods.items()}
        if not periods or any(not 0 <= c < in_dim for c in periods) or any(p <= 0 for p in periods.values()):
            raise ValueError(f"periods must map columns in [0, {in_dim}) to positive periods, got {periods}")
        self.in_dim, self.periods = in_dim, dict(periods)
        self.rest = [c for c in range(in_dim) if c not in periods]
        self.out_dim = 2 * len(periods) + len(self.rest)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        parts = []
        for c, period in self.periods.items():
            angle = (2 * math.pi / period) * coords[:, c:c + 1]
            parts += [torch.cos(angle), torch.sin(angle)]
        return torch.cat(parts + [coords[:, self.rest]], dim=1)


class FourierFeatures(nn.Module):
    """``[x, cos 2 pi B x, sin 2 pi B x]`` with ``B ~ N(0, scale^2)`` of shape
    ``(n_features, in_dim)``, fixed (a buffer, saved with the model)."""

    def __init__(self, in_dim: int, n_features: int = 64, scale: float = 1.0, seed: int = 0):
        super().__init__()
        in_dim, n_features = check_int("in_dim", in_dim), check_int("n_features", n_features)
        scale = check_real("scale", scale, positive=True)
        g = torch.Generator().manual_seed(check_seed("seed", seed))
        self.register_buffer("B", scale * torch.randn(n_features, in_dim, generator=g))
        self.out_dim = in_dim + 2 * n_features

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        angle = 2 * math.pi * coords @ self.B.to(coords.dtype).T
        return torch.cat([coords, torch.cos(angle), torch.sin(angle)], dim=1)


class PINNNet(nn.Module):
    """``u(coords) = transform(coords, MLP(embedding(coords)))``.

    Args:
        in_dim, out_dim: coordinate and output dimensions.
        width, depth, activation: the MLP.
        embedding: ``None``, a module with ``out_dim`` (:class:`PeriodicEmbedding`,
            :class:`FourierFeatures`), or a list of them applied in turn.
        output_transform: ``f(coords, raw) -> u`` for hard constraints.
    """

    def __init__(self, in_dim: int, out_dim: int = 1, width: int = 50, depth: int = 4, activation: str = "tanh",
                 embedding: nn.Module | Sequence[nn.Module] | None = None,
                 output_transform: Callable | None = None):
        super().__init__()
        stages = [] if embedding is None else list(embedding) if isinstance(embedding, (list, tuple)) else [embedding]
        for i, stage in enumerate(stages):
            where = "embedding" if len(stages) == 1 and not isinstance(embedding, (list, tuple)) else f"embedding[{i}]"
            if not isinstance(stage, nn.Module) or not isinstance(getattr(stage, "out_dim", None), int):
                raise ArgumentTypeError(f"{where} must be an nn.Module with an int out_dim (e.g. "
                                        f"FourierFeatures(in_dim) or PeriodicEmbedding(in_dim, periods)), got "
                                        f"{type(stage).__name__} {stage!r:.40}")
        self.embedding = nn.Sequential(*stages)
        d = stages[-1].out_dim if stages else in_dim
        if output_transform is not None:
            check_callable("output_transform", output_transform, "f(coords, raw) -> u")
        self.in_dim, self.out_dim = check_int("in_dim", in_dim), check_int("out_dim", out_dim)
        self.mlp = MLP(d, out_dim, width, depth, activation)
        self.output_transform = output_transform

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        check_model_input("PINNNet", coords, layout=f"coordinates (N, {self.in_dim})", ndim=2, channels=self.in_dim,
                          dtype=self.mlp[0].weight.dtype)
        raw = self.mlp(self.embedding(coords))
        return raw if self.output_transform is None else self.output_transform(coords, raw)


def initial_condition_transform(u0: Callable, t_column: int = -1, space_columns: Sequence[int] | None = None):
    """``u = u0(x) + t * raw``: ``u(x, 0) = u0(x)`` exactly. ``u0`` takes the space
    columns ``(N, d - 1)`` and returns ``(N, out_dim)``."""

    def transform(coords, raw):
        d = coords.shape[1]
        t_col = t_column % d
        cols = [c for c in range(d) if c != t_col] if space_columns is None else list(space_columns)
        return u0(coords[:, cols]) + coords[:, t_col:t_col + 1] * raw

    return transform
