"""Error metrics that name their norm, and the snapshot singular values behind the
Kolmogorov n-width argument."""

from __future__ import annotations

import torch

__all__ = ["relative_frobenius", "relative_spectral", "snapshot_singular_values"]


def _pair(pred, ref) -> tuple[torch.Tensor, torch.Tensor]:
    pred, ref = torch.as_tensor(pred, dtype=torch.float64), torch.as_tensor(ref, dtype=torch.float64)
    if pred.shape != ref.shape or pred.dim() != 2:
        raise ValueError(f"expected two (n_t, n_x) arrays of one shape, got {tuple(pred.shape)}, {tuple(ref.shape)}")
    return pred, ref


def relative_frobenius(pred, ref) -> float:
    """``||pred - ref||_F / ||ref||_F`` over the whole space-time grid (the relative L2
    error on a uniform grid; what the tables here report)."""
    pred, ref = _pair(pred, ref)
    return float(torch.linalg.norm(pred - ref) / torch.linalg.norm(ref))


def relative_spectral(pred, ref, cut: int = 0, shift: float = 0.0) -> float:
    """``||E||_2 / ||ref - shift||_2`` with the matrix 2-norm (largest singular value) of the
    ``(n_t, n_x)`` error after dropping ``cut`` points at both ends of ``x``: the LPINN
    reference code's metric (``cut = 2``; ``shift`` = its ``C``)."""
    pred, ref = _pair(pred, ref)
    if cut:
        pred, ref = pred[:, cut:-cut], ref[:, cut:-cut]
    return float(torch.linalg.matrix_norm(pred - ref, ord=2) / torch.linalg.matrix_norm(ref - shift, ord=2))


def snapshot_singular_values(snapshots) -> torch.Tensor:
    """Singular values of the ``(n_x, n_t)`` snapshot matrix, normalised by the largest:
    how fast they fall bounds how well ``n``-dimensional linear spaces can represent the
    solution manifold (the Kolmogorov ``n``-width)."""
    s = torch.linalg.svdvals(torch.as_tensor(snapshots, dtype=torch.float64))
    return s / s[0]
