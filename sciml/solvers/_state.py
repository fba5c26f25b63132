"""Packing of user states (a tensor or a tuple of tensors) into one flat tensor.

The integrators work on a single 2-D tensor: shape ``(1, N)`` when the whole batch
shares a step size, ``(batch, D)`` when each sample has its own. ``StateLayout`` converts
between that and the user's structure, and wraps ``func`` accordingly.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence, Union

import torch

State = Union[torch.Tensor, Sequence[torch.Tensor]]


class StateLayout:
    """How a user state maps onto the flat working tensor.

    Args:
        y0: a floating-point tensor, or a tuple of them on one device with one dtype.
        per_sample: keep the leading (batch) dimension separate.
    """

    def __init__(self, y0: State, per_sample: bool):
        self.is_tuple = not isinstance(y0, torch.Tensor)
        parts = tuple(y0) if self.is_tuple else (y0,)
        self.shapes = [p.shape for p in parts]
        self.per_sample = per_sample
        self.batch = parts[0].shape[0] if per_sample else 1
        self.sizes = [math.prod(s[1:]) if per_sample else math.prod(s) for s in self.shapes]

    def flatten(self, y: State) -> torch.Tensor:
        parts = tuple(y) if self.is_tuple else (y,)
        rows = parts[0].shape[0] if self.per_sample else 1
        flat = [p.reshape(rows, -1) for p in parts]
        return flat[0] if len(flat) == 1 else torch.cat(flat, dim=1)

    def unflatten(self, flat: torch.Tensor) -> State:
        """``flat`` of shape ``(*lead, rows, D)`` -> user structure with the ``lead``
        dimensions in front of every part."""
        lead = flat.shape[:-2]
        if not self.is_tuple:
            return flat.reshape((*lead, *self.shapes[0]))
        chunks = torch.split(flat, self.sizes, dim=-1)
        return tuple(c.reshape((*lead, *s)) for c, s in zip(chunks, self.shapes))

    def wrap(self, func: Callable) -> Callable:
        """``func(t, user_state) -> user_state`` as ``f(t, flat) -> flat``."""
        if not self.is_tuple:
            # a tuple of ints rather than torch.Size: view/reshape parse it several times faster; () is a 0-d state
            shape, rows = tuple(self.shapes[0]), self.batch
            return lambda t, y: func(t, y.view(shape)).reshape(rows, -1)
        return lambda t, y: self.flatten(func(t, self.unflatten(y)))
