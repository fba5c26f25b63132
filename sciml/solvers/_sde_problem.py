"""What the SDE solvers accept: the checks of an SDE object and its initial state,
the default method, the noise dimension, and the counted, shape-checked view of the
user's SDE that every SDE loop steps.

An SDE is any object with ``f(t, y)``, ``g(t, y)``, ``noise_type`` (diagonal, scalar,
additive, general) and ``sde_type`` (ito, stratonovich), as in torchsde; ``y`` has
shape ``(batch, d)``; see ``_sde_methods.py`` for the shapes of ``g``.
"""

from __future__ import annotations

import torch

from sciml.validation import ArgumentTypeError, check_choice

from ._sde_methods import METHODS

__all__ = ["NOISE_TYPES", "SDE_TYPES", "CountedSDE", "check_sde", "noise_dim", "sde_method"]

NOISE_TYPES = ("diagonal", "scalar", "additive", "general")
SDE_TYPES = ("ito", "stratonovich")


class CountedSDE:
    """The user's SDE with evaluation counting (``nfe`` counts calls of ``f``) and a
    one-time check of the shapes ``f`` and ``g`` return."""

    def __init__(self, sde, y0: torch.Tensor, m: int):
        self.sde, self.noise_type, self.sde_type = sde, sde.noise_type, sde.sde_type
        self.nfe = 0
        self._want_g = {"diagonal": y0.shape, "scalar": (*y0.shape, 1)}.get(sde.noise_type, (*y0.shape, m))
        self._checked = False

    def f(self, t, y):
        self.nfe += 1
        out = self.sde.f(t, y)
        if not self._checked:
            if tuple(out.shape) != tuple(y.shape):
                raise ValueError(f"sde.f returned shape {tuple(out.shape)}, expected {tuple(y.shape)} (the shape of y)")
            _check_like("sde.f", out, y)
        return out

    def g(self, t, y):
        out = self.sde.g(t, y)
        if not self._checked:
            if tuple(out.shape) != tuple(self._want_g):
                raise ValueError(f"sde.g returned shape {tuple(out.shape)} for noise_type {self.noise_type!r}, "
                                 f"expected {tuple(self._want_g)}")
            _check_like("sde.g", out, y)
            self._checked = True
        return out

    def h(self, t, y):
        return self.sde.h(t, y)


def _check_like(name: str, out: torch.Tensor, y: torch.Tensor) -> None:
    if out.dtype != y.dtype or out.device != y.device:
        raise ArgumentTypeError(f"{name} returned a {out.dtype} tensor on {out.device}, but y0 is {y.dtype} on "
                                f"{y.device}; make the SDE return y0's dtype and device (e.g. sde.to(y0.dtype))")


def noise_dim(sde, y0: torch.Tensor) -> int:
    """``m``, the dimension of ``W``: ``d`` for diagonal noise, 1 for scalar noise,
    otherwise read from ``g(0, y0)`` of shape ``(batch, d, m)``."""
    if sde.noise_type == "diagonal":
        return y0.shape[1]
    if sde.noise_type == "scalar":
        return 1
    g = sde.g(torch.zeros((), dtype=y0.dtype, device=y0.device), y0)
    if g.dim() != 3:
        raise ValueError(f"for noise_type {sde.noise_type!r}, sde.g must return (batch, d, m), got {tuple(g.shape)}")
    return g.shape[2]


def check_sde(sde, y0, method: str | None) -> str:
    """Validate ``sde`` and ``y0`` (a finite floating tensor ``(batch, d)``) and return
    the method: ``method`` if it solves this SDE, else the default (torchsde's: srk for
    Itô, euler for general noise, midpoint for Stratonovich)."""
    for name in ("f", "g", "noise_type", "sde_type"):
        if not hasattr(sde, name):
            raise TypeError(f"sde must have f(t, y), g(t, y), noise_type and sde_type (as in torchsde); missing {name!r}")
    check_choice("noise_type", sde.noise_type, NOISE_TYPES)
    check_choice("sde_type", sde.sde_type, SDE_TYPES)
    if not isinstance(y0, torch.Tensor) or y0.dim() != 2 or not y0.is_floating_point():
        shape = tuple(y0.shape) if isinstance(y0, torch.Tensor) else type(y0).__name__
        raise ValueError(f"y0 must be a floating-point tensor of shape (batch, d), got {shape}")
    if not bool(torch.isfinite(y0).all()):
        raise ValueError("y0 contains NaN or Inf; the initial state must be finite")
    return sde_method(method, sde.sde_type, sde.noise_type)


def sde_method(method: str | None, sde_type: str, noise_type: str) -> str:
    """The name of the SDE method that solves an SDE of ``sde_type`` and ``noise_type``:
    ``method`` itself after checking that it can (the error lists those that can), or the
    default for ``method=None`` (srk for Itô, euler for general Itô noise, midpoint for
    Stratonovich)."""
    check_choice("sde_type", sde_type, SDE_TYPES)
    check_choice("noise_type", noise_type, NOISE_TYPES)
    if method is None:
        if sde_type == "ito":
            method = "euler" if noise_type == "general" else "srk"
        else:
            method = "midpoint"
    check_choice("method", method, METHODS)
    m = METHODS[method]
    if sde_type not in m.sde_types or noise_type not in m.noise_types:
        ok = sorted(n for n, c in METHODS.items() if sde_type in c.sde_types and noise_type in c.noise_types)
        if sde_type not in m.sde_types:
            problem = f"solves {'/'.join(m.sde_types)} SDEs, not {sde_type}"
        else:
            problem = f"does not support {noise_type} noise"
        raise ValueError(f"method {method!r} {problem}; for this SDE use one of {', '.join(ok)}")
    return method
