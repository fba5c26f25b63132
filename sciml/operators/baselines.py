"""Baseline operators from other libraries, built from plain keyword arguments."""

from __future__ import annotations

__all__ = ["fno"]


def fno(n_modes=(16, 16), in_channels: int = 1, out_channels: int = 1, hidden_channels: int = 32,
        n_layers: int = 4, **kwargs):
    """neuraloperator's ``FNO`` (2.0). ``n_modes`` counts all kept modes per dimension
    (a centred window: ``(16, 16)`` is the original FNO's ``modes=8`` per corner); the
    default ``positional_embedding="grid"`` appends the coordinates on ``[0, 1]``.
    Other keyword arguments go to ``neuralop.models.FNO`` unchanged."""
    try:
        from neuralop.models import FNO
    except ImportError as err:  # pragma: no cover - neuraloperator is a dependency
        raise ImportError("model 'fno' needs neuraloperator: pip install neuraloperator") from err
    return FNO(n_modes=tuple(int(m) for m in n_modes), in_channels=in_channels, out_channels=out_channels,
               hidden_channels=hidden_channels, n_layers=n_layers, **kwargs)
