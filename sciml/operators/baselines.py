"""Baseline operators from other libraries, built from plain keyword arguments."""

from __future__ import annotations

from typing import Sequence

from sciml.train.spec import record_spec
from sciml.validation import check_int

__all__ = ["fno"]


@record_spec("fno")
def fno(n_modes: Sequence[int] = (16, 16), in_channels: int = 1, out_channels: int = 1, hidden_channels: int = 32,
        n_layers: int = 4, lifting_channel_ratio: float = 2, projection_channel_ratio: float = 2,
        positional_embedding: str | None = "grid", norm: str | None = None,
        domain_padding: float | Sequence[float] | None = None, channel_mlp_expansion: float = 0.5,
        channel_mlp_skip: str | None = "soft-gating", fno_skip: str | None = "linear",
        factorization: str | None = None, rank: float = 1.0):
    """neuraloperator's ``FNO`` (2.0): ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.

    ``n_modes`` counts all kept modes per dimension (a centred window: ``(16, 16)`` is the
    original FNO's ``modes=8`` per corner); ``positional_embedding="grid"`` appends the
    coordinates on ``[0, 1]``. The other arguments are ``neuralop.models.FNO``'s, with its
    defaults (neuraloperator is imported on the first call: it takes seconds to import).
    """
    try:
        from neuralop.models import FNO
    except ImportError as err:  # pragma: no cover - neuraloperator is a dependency
        raise ImportError("model 'fno' needs neuraloperator: pip install neuraloperator") from err
    n_modes = tuple(check_int(f"n_modes[{i}]", m) for i, m in enumerate(n_modes))
    return FNO(n_modes=n_modes, in_channels=check_int("in_channels", in_channels),
               out_channels=check_int("out_channels", out_channels),
               hidden_channels=check_int("hidden_channels", hidden_channels), n_layers=check_int("n_layers", n_layers),
               lifting_channel_ratio=lifting_channel_ratio, projection_channel_ratio=projection_channel_ratio,
               positional_embedding=positional_embedding, norm=norm, domain_padding=domain_padding,
               channel_mlp_expansion=channel_mlp_expansion, channel_mlp_skip=channel_mlp_skip, fno_skip=fno_skip,
               factorization=factorization, rank=rank)
