"""Gaussian normalisers that live in the model's ``state_dict`` (so they travel with
every checkpoint), and a wrapper that applies them around a model."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from sciml.validation import ArgumentTypeError, check_real, check_tensor

__all__ = ["GaussianNormalizer", "NormalizedModel"]


class GaussianNormalizer(nn.Module):
    """``encode(x) = (x - mean) / (std + eps)`` on fields ``(batch, channels, *space)``.

    ``pointwise=True``: mean and std per channel and grid point over the samples
    (neuraloperator's ``UnitGaussianNormalizer``, MgNO's "PGN"); it only applies at the
    resolution it was fitted on. ``pointwise=False``: one mean and std per channel
    over samples and space ("GN"), valid at any resolution. Statistics are accumulated
    in float64 over batches (``fit`` accepts a tensor or an iterable of tensors), and
    stored as buffers.
    """

    def __init__(self, pointwise: bool = True, eps: float = 1e-6):
        super().__init__()
        if not isinstance(pointwise, bool):
            raise ArgumentTypeError(f"pointwise must be True or False, got {pointwise!r} ({type(pointwise).__name__})")
        self.pointwise, self.eps = pointwise, check_real("eps", eps, nonnegative=True)
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("std", torch.zeros(0))

    @torch.no_grad()
    def fit(self, data: torch.Tensor | Iterable[torch.Tensor]) -> "GaussianNormalizer":
        batches = [data] if isinstance(data, torch.Tensor) else data
        count, total, total_sq, first = 0, None, None, None
        for x in batches:
            check_tensor("a batch of fit", x, floating=True, finite=True, layout="(batch, channels, *space)")
            x = x.to(torch.float64)
            if x.dim() < 3:
                raise ValueError(f"expected fields (batch, channels, *space), got {tuple(x.shape)}")
            shape = tuple(x.shape[1:]) if self.pointwise else (x.shape[1], x.dim())
            if first is not None and shape != first:
                raise ValueError(f"every batch must have the fields of the first (channels and, pointwise, the grid "
                                 f"{first}), got a batch of shape {tuple(x.shape)}")
            first = shape
            if not len(x):
                continue
            axes = (0,) if self.pointwise else (0,) + tuple(range(2, x.dim()))
            n = x.numel() // x[0:1].numel() if self.pointwise else x.numel() // x.shape[1]
            s, sq = x.sum(axes), (x * x).sum(axes)
            total = s if total is None else total + s
            total_sq = sq if total_sq is None else total_sq + sq
            count += n
        if not count:
            raise ValueError("fit needs at least one sample")
        mean = total / count
        var = (total_sq / count - mean * mean).clamp_min(0) * count / max(count - 1, 1)
        shape = mean.shape if self.pointwise else mean.shape + (1,) * (x.dim() - 2)
        self.mean = mean.reshape(shape).to(torch.float32)
        self.std = var.sqrt().reshape(shape).to(torch.float32)
        return self

    def constructor_kwargs(self) -> dict:
        """``{"pointwise", "eps"}``: what ``GaussianNormalizer(**kwargs)`` rebuilds before a
        ``state_dict`` fills the statistics."""
        return {"pointwise": self.pointwise, "eps": self.eps}

    def _stats(self, x: torch.Tensor):
        if self.mean.numel() == 0:
            raise RuntimeError("the normaliser has not been fitted; call fit(training inputs) first")
        if self.pointwise and tuple(x.shape[1:]) != tuple(self.mean.shape):
            raise ValueError(f"a pointwise normaliser fitted on fields {tuple(self.mean.shape)} cannot apply to "
                             f"{tuple(x.shape[1:])}; use pointwise=False to change resolution")
        return self.mean.to(x), self.std.to(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return (x - mean) / (std + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return x * (std + self.eps) + mean

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("mean", "std"):  # buffers start empty; take the checkpoint's shape
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class NormalizedModel(nn.Module):
    """``decode_y(model(encode_x(x)))``: the model sees normalised inputs and learns
    normalised outputs, while callers (losses, evaluation, simulation) see physical
    units. Either normaliser may be ``None``. Saved and loaded with the model; what
    rebuilds them is :meth:`normalizer_specs` (recorded in checkpoints by the Trainer)."""

    def __init__(self, model: nn.Module, input_normalizer: GaussianNormalizer | None = None,
                 output_normalizer: GaussianNormalizer | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise ArgumentTypeError(f"model must be a torch.nn.Module (its parameters are trained and saved), got "
                                    f"{type(model).__name__}; wrap a function in an nn.Module subclass")
        for name, norm in (("input_normalizer", input_normalizer), ("output_normalizer", output_normalizer)):
            if norm is not None and not isinstance(norm, GaussianNormalizer):
                raise ArgumentTypeError(f"{name} must be a GaussianNormalizer or None, got {type(norm).__name__}")
        self.model, self.input_normalizer, self.output_normalizer = model, input_normalizer, output_normalizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_normalizer is not None:
            x = self.input_normalizer.encode(x)
        y = self.model(x)
        return y if self.output_normalizer is None else self.output_normalizer.decode(y)

    def normalizer_specs(self) -> dict:
        """``{"input": kwargs | None, "output": kwargs | None}``, the constructor keywords of
        the two normalisers (``None``: no normaliser)."""
        return {side: None if norm is None else norm.constructor_kwargs()
                for side, norm in (("input", self.input_normalizer), ("output", self.output_normalizer))}
