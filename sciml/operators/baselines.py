"""Baseline operators from other libraries, built from plain keyword arguments."""

from __future__ import annotations

import numbers
from typing import Sequence

import torch

from sciml.train.spec import record_spec
from sciml.validation import ArgumentTypeError, check_int, check_model_input, check_real

__all__ = ["fno"]


def _check_input(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
    """Forward pre-hook of :func:`fno`: the input is ``(batch, in_channels, *space)`` with
    one space axis per entry of ``n_modes``, in the dtype of the weights."""
    x = args[0] if args else kwargs.get("x")
    ndim = len(module.n_modes)
    space = ", ".join(f"x{i}" for i in range(1, ndim + 1))
    check_model_input("fno", x, layout=f"(batch, {module.in_channels}, {space})", ndim=ndim + 2,
                      channels=module.in_channels, dtype=next(module.parameters()).dtype)
    if x.shape[0] == 0:
        raise ValueError(f"fno got an empty batch: input shape {tuple(x.shape)} has batch size 0; pass at least "
                         f"one sample (batch, {module.in_channels}, {space})")


NORMS = ("instance_norm", "group_norm", "batch_norm", "ada_in")
SKIPS = ("linear", "identity", "soft-gating")
FACTORIZATIONS = ("dense", "cp", "tucker", "tt", "complexdense", "complexcp", "complextucker", "complextt")


def _optional_choice(name: str, value, known: Sequence[str]) -> str | None:
    """``None`` or one of ``known`` (case-insensitive, as neuraloperator compares them)."""
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in known:
        raise ValueError(f"unknown {name} {value!r}; known: None, {', '.join(known)}")
    return value


@record_spec("fno")
def fno(n_modes: Sequence[int] = (16, 16), in_channels: int = 1, out_channels: int = 1, hidden_channels: int = 32,
        n_layers: int = 4, lifting_channel_ratio: float = 2, projection_channel_ratio: float = 2,
        positional_embedding: str | None = "grid", norm: str | None = None,
        domain_padding: float | Sequence[float] | None = None, channel_mlp_expansion: float = 0.5,
        channel_mlp_skip: str | None = "soft-gating", fno_skip: str | None = "linear",
        factorization: str | None = None, rank: float = 1.0):
    """neuraloperator's ``FNO`` (2.0): ``(batch, in_channels, *space) -> (batch, out_channels, *space)``.

    ``n_modes`` counts all kept modes per dimension, one positive int per space axis (a
    centred window: ``(16, 16)`` is the original FNO's ``modes=8`` per corner);
    ``positional_embedding="grid"`` appends the coordinates on ``[0, 1]``. The other
    arguments are ``neuralop.models.FNO``'s, with its defaults (neuraloperator is imported
    on the first call: it takes seconds to import). The returned module checks its
    input's layout and dtype before every call.
    """
    if isinstance(n_modes, numbers.Number) or not isinstance(n_modes, Sequence) or not n_modes:
        raise ArgumentTypeError(f"n_modes must list the kept modes per space axis, e.g. (16, 16) in 2-D, got "
                                f"{n_modes!r}")
    n_modes = tuple(check_int(f"n_modes[{i}]", m) for i, m in enumerate(n_modes))
    ratios = {name: check_real(name, value, positive=True) for name, value in (
        ("lifting_channel_ratio", lifting_channel_ratio), ("projection_channel_ratio", projection_channel_ratio),
        ("channel_mlp_expansion", channel_mlp_expansion), ("rank", rank))}
    if positional_embedding is not None and positional_embedding != "grid" \
            and not isinstance(positional_embedding, torch.nn.Module):
        raise ValueError(f"unknown positional_embedding {positional_embedding!r}; known: 'grid' (the coordinates "
                         f"on [0, 1]), None, or an embedding module such as neuralop's GridEmbeddingND")
    norm = _optional_choice("norm", norm, NORMS)
    channel_mlp_skip = _optional_choice("channel_mlp_skip", channel_mlp_skip, SKIPS)
    fno_skip = _optional_choice("fno_skip", fno_skip, SKIPS)
    factorization = _optional_choice("factorization", factorization, FACTORIZATIONS)
    if domain_padding is not None:
        pads = domain_padding if isinstance(domain_padding, Sequence) else [domain_padding]
        if isinstance(domain_padding, str) or not pads:
            raise ArgumentTypeError(f"domain_padding must be None, a fraction >= 0 or one per space axis, got "
                                    f"{domain_padding!r}")
        pads = [check_real("domain_padding", p, nonnegative=True,
                           hint="it is the padded fraction of each space axis, e.g. 0.25") for p in pads]
        if isinstance(domain_padding, Sequence) and len(pads) != len(n_modes):
            raise ValueError(f"domain_padding lists {len(pads)} fractions for {len(n_modes)} space axes "
                             f"(n_modes={n_modes})")
        domain_padding = pads if isinstance(domain_padding, Sequence) else pads[0]
    try:
        from neuralop.models import FNO
    except ImportError as err:  # pragma: no cover - neuraloperator is a dependency
        raise ImportError("model 'fno' needs neuraloperator: pip install neuraloperator") from err
    model = FNO(n_modes=n_modes, in_channels=check_int("in_channels", in_channels),
                out_channels=check_int("out_channels", out_channels),
                hidden_channels=check_int("hidden_channels", hidden_channels), n_layers=check_int("n_layers", n_layers),
                positional_embedding=positional_embedding, norm=norm, domain_padding=domain_padding,
                channel_mlp_skip=channel_mlp_skip, fno_skip=fno_skip, factorization=factorization, **ratios)
    model.register_forward_pre_hook(_check_input, with_kwargs=True)
    return model
