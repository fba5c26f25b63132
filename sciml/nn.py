"""Multilayer perceptrons and the activation table every method shares.

* :func:`activation` builds an activation module from its name (:data:`ACTIVATIONS`).
* :func:`mlp` builds ``Linear(s_0, s_1), act, Linear(s_1, s_2), act, ..., Linear(s_{L-1}, s_L)``
  for ``sizes = [s_0, ..., s_L]``: an affine map between every pair of consecutive sizes and
  the activation between them (none after the last layer), so it maps ``(N, s_0)`` to
  ``(N, s_L)`` and has ``sum_l (s_l + 1) s_{l+1}`` parameters.
* :class:`MLP` is the same network with ``depth`` hidden layers of one ``width``:
  ``sizes = [in_dim] + [width] * depth + [out_dim]``.

The ``nn.Linear`` layers are created in order from the input to the output with
PyTorch's default initialisation, so one seed gives the same weights as any builder that
creates the same layers in the same order; the layer indices of the ``nn.Sequential``
(``0``, ``2``, ... for the affine maps) name the state-dict keys.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from sciml.validation import check_choice, check_int, check_model_input

__all__ = ["ACTIVATIONS", "MLP", "Sine", "activation", "mlp"]


class Sine(nn.Module):
    """``sin(x)`` elementwise (SIREN-style periodic activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


ACTIVATIONS = {"tanh": nn.Tanh, "sin": Sine, "gelu": nn.GELU, "silu": nn.SiLU, "relu": nn.ReLU, "selu": nn.SELU}


def activation(name: str) -> nn.Module:
    """A new activation module for ``name``, one of :data:`ACTIVATIONS`; an unknown name
    raises ``ValueError`` listing the known ones."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]()


def _layers(sizes: Sequence[int], name: str) -> list[nn.Module]:
    sizes = [check_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least an input and an output size, got {sizes}")
    check_choice("activation", name, ACTIVATIONS)
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation(name)]
    return layers[:-1]


def mlp(sizes: Sequence[int], activation: str = "tanh") -> nn.Sequential:
    """``(N, sizes[0]) -> (N, sizes[-1])``: affine maps between consecutive ``sizes`` with
    ``activation`` between them (not after the last)."""
    return nn.Sequential(*_layers(sizes, activation))


class MLP(nn.Sequential):
    """``(N, in_dim) -> (N, out_dim)``: ``depth >= 1`` hidden layers of ``width`` units,
    each an affine map and ``activation``, then an affine output layer."""

    def __init__(self, in_dim: int, out_dim: int, width: int = 50, depth: int = 4, activation: str = "tanh"):
        in_dim, out_dim = check_int("in_dim", in_dim), check_int("out_dim", out_dim)
        width, depth = check_int("width", width), check_int("depth", depth)
        super().__init__(*_layers([in_dim] + [width] * depth + [out_dim], activation))
        self.in_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102 - (N, in_dim) -> (N, out_dim)
        check_model_input("MLP", x, layout=f"(..., in_dim={self.in_dim})", min_ndim=1, channels=self.in_dim,
                          channel_axis=-1, dtype=self[0].weight.dtype)
        return super().forward(x)
