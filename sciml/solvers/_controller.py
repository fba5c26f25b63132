"""Step-size controllers: accept or reject a step and choose the next step size.

Both controllers act on the scaled error ``E = RMS(err / (atol + rtol max(|y_n|, |y_{n+1}|)))``
of a method whose embedded solution has order ``q - 1``; a step is accepted iff
``E <= 1``. They work on Python floats (one step size for the whole batch) and on
tensors of shape ``(batch,)`` (one step size per sample) with the same formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import torch

from sciml.validation import ArgumentTypeError, check_real

__all__ = ["IController", "PIController"]

Scalar = Union[float, torch.Tensor]

# An accepted error below this is treated as this in the PI memory (Hairer's DOPRI5 uses 1e-4).
_ERROR_FLOOR = 1e-4


def _is_tensor(x) -> bool:
    return isinstance(x, torch.Tensor)


@dataclass(frozen=True)
class PIController:
    """Proportional-integral step-size control (Gustafsson 1991; Hairer & Wanner,
    Solving ODEs II, Sec. IV.2).

    After an accepted step::

        h_next = h * clip(safety * E_n^(-alpha/q) * E_prev^(beta/q), min_factor, max_factor)

    where ``E_prev`` is the previous accepted error (floored at 1e-4). After a
    rejected step the proportional memory is dropped,
    ``h_next = h * clip(safety * E_n^(-1/q), min_factor, 1)``, and (with
    ``hold_after_reject``) the step after a rejection may not grow: its factor is
    capped at 1 (Hairer & Wanner's advice, Solving ODEs I, Sec. II.4).

    Args:
        alpha: integral gain (multiplies ``1/q``).
        beta: proportional gain (multiplies ``1/q``). The defaults give Hairer's
            DOPRI5 exponents for q = 5: ``E_n^-0.17 E_prev^0.04``.
        safety: safety factor in (0, 1].
        min_factor: smallest allowed ratio ``h_next / h`` (in (0, 1)).
        max_factor: largest allowed ratio ``h_next / h`` (> 1).
        hold_after_reject: cap the growth of the step that follows a rejection at 1.
    """

    alpha: float = 0.85
    beta: float = 0.2
    safety: float = 0.9
    min_factor: float = 0.2
    max_factor: float = 10.0
    hold_after_reject: bool = True

    def __post_init__(self):
        for name in ("alpha", "beta", "safety", "min_factor", "max_factor"):
            object.__setattr__(self, name, check_real(name, getattr(self, name)))
        if not isinstance(self.hold_after_reject, bool):
            raise ArgumentTypeError(f"hold_after_reject must be True or False, got {self.hold_after_reject!r}")
        if not 0 < self.safety <= 1:
            raise ValueError(f"safety must lie in (0, 1], got {self.safety}")
        if not 0 < self.min_factor < 1:
            raise ValueError(f"min_factor must lie in (0, 1), got {self.min_factor}")
        if not self.max_factor > 1:
            raise ValueError(f"max_factor must exceed 1, got {self.max_factor}")
        if self.alpha <= 0 or self.beta < 0:
            raise ValueError(f"need alpha > 0 and beta >= 0, got alpha={self.alpha}, beta={self.beta}")

    def init_state(self, like: Scalar):
        """Controller memory ``(E_prev, last_rejected)`` for a step size like ``like``."""
        if _is_tensor(like):
            return torch.ones_like(like), torch.zeros_like(like, dtype=torch.bool)
        return 1.0, False

    def adapt(self, h: Scalar, error: Scalar, q: int, state):
        """Decide on a step of size ``h`` with scaled error ``error``.

        Returns ``(accept, h_next, state)``; NaN or infinite errors are rejected
        with the largest allowed reduction.
        """
        e_prev, last_rejected = state
        if _is_tensor(error):
            return self._adapt_tensor(h, error, q, e_prev, last_rejected)
        accept = error <= 1.0
        if not math.isfinite(error):
            factor = self.min_factor
        elif accept:
            e = max(error, 1e-10)
            factor = self.safety * e ** (-self.alpha / q) * e_prev ** (self.beta / q)
            cap = 1.0 if last_rejected and self.hold_after_reject else self.max_factor
            factor = min(max(factor, self.min_factor), cap)
        else:
            factor = min(max(self.safety * error ** (-1.0 / q), self.min_factor), 1.0)
        if accept:
            e_prev = max(error, _ERROR_FLOOR)
        return accept, h * factor, (e_prev, not accept)

    def _adapt_tensor(self, h, error, q, e_prev, last_rejected):
        accept = error <= 1.0
        finite = torch.isfinite(error)
        e = error.clamp_min(1e-10)
        grow = self.safety * e.pow(-self.alpha / q) * e_prev.pow(self.beta / q)
        upper = torch.where(last_rejected & self.hold_after_reject, 1.0, self.max_factor)
        grow = torch.minimum(grow.clamp_min(self.min_factor), upper)
        shrink = (self.safety * e.pow(-1.0 / q)).clamp(self.min_factor, 1.0)
        factor = torch.where(accept, grow, torch.where(finite, shrink, self.min_factor))
        e_prev = torch.where(accept, e.clamp_min(_ERROR_FLOOR), e_prev)
        return accept, h * factor, (e_prev, ~accept)


@dataclass(frozen=True)
class IController(PIController):
    """Integral (elementary) step-size control, as in torchdiffeq and diffrax's default::

        h_next = h * clip(safety * E^(-1/q), min_factor, max_factor)

    with no growth right after a rejection (unless ``hold_after_reject=False``).
    """

    alpha: float = 1.0
    beta: float = 0.0
