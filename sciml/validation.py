"""Argument checks shared by every public API of sciml.

Each check returns the value in its canonical form (a Python ``int`` or ``float``, the
tensor itself) or raises an error that names the argument, says what was given and
what is expected, and how to fix it::

    n = check_int("n_samples", n_samples)                   # positive int
    h = check_real("dt", dt, positive=True)                 # finite float > 0
    p = check_probability("val_fraction", p, closed=False)  # in [0, 1)

A value of the wrong kind (a string for an int, a float for a count) raises
:class:`ArgumentTypeError`, which is a ``TypeError`` and also a ``ValueError`` (so code
that catches ``ValueError`` for any bad argument keeps working); the right kind with a
wrong value raises ``ValueError``. ``bool`` is never accepted
as a number: ``True`` for ``n_steps`` is almost always a mistake.

This module is the base of the layering: it imports nothing from sciml, and every
layer (the solver core included) may import it.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import torch

__all__ = ["ArgumentTypeError", "check_callable", "check_choice", "check_int", "check_mapping", "check_model_input", "check_probability",
           "check_real", "check_seed", "check_tensor",
           "check_tolerance"]


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind: a ``TypeError`` that is also a ``ValueError``."""


def _with_hint(message: str, hint: str | None) -> str:
    return f"{message}; {hint}" if hint else message


def _describe_int_range(minimum: int | None, maximum: int | None) -> str:
    if maximum is not None and minimum is not None:
        return f"an int in [{minimum}, {maximum}]"
    if minimum == 1:
        return "a positive int"
    if minimum == 0:
        return "a non-negative int"
    if minimum is not None:
        return f"an int >= {minimum}"
    if maximum is not None:
        return f"an int <= {maximum}"
    return "an int"


def check_int(name: str, value: Any, minimum: int | None = 1, maximum: int | None = None,
              hint: str | None = None) -> int:
    """``value`` as a Python int in ``[minimum, maximum]`` (``None``: unbounded).

    Python and numpy integers are accepted; ``bool``, floats (also ``2.0``) and
    strings are not, so ``seed=1.7`` or ``n=True`` fail instead of being truncated.
    """
    wanted = _describe_int_range(minimum, maximum)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            hint = hint or f"pass {int(value)} (an int, not a float)"
        raise ArgumentTypeError(_with_hint(f"{name} must be {wanted}, got {value!r} ({type(value).__name__})", hint))
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(_with_hint(f"{name} must be {wanted}, got {value!r}", hint))
    return value


def check_seed(name: str, value: Any) -> int:
    """A random seed: a non-negative int (not a float, which would be truncated silently)."""
    return check_int(name, value, minimum=0, hint="seeds are non-negative ints such as 0 or 1234")


def check_real(name: str, value: Any, *, positive: bool = False, nonnegative: bool = False,
               minimum: float | None = None, maximum: float | None = None, allow_none: bool = False,
               hint: str | None = None) -> float | None:
    """``value`` as a finite Python float.

    ``positive``: ``> 0``; ``nonnegative``: ``>= 0``; ``minimum``/``maximum``: closed
    bounds. One-element tensors and numpy scalars are accepted (read once, so do not
    use this inside a hot loop on device tensors). ``allow_none`` passes ``None`` through.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(_with_hint(f"{name} must be a real number, got {value!r} ({type(value).__name__})", hint))
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(_with_hint(f"{name} must be finite, got {value}", hint))
    if positive and not value > 0:
        raise ValueError(_with_hint(f"{name} must be > 0, got {value}", hint))
    if nonnegative and not value >= 0:
        raise ValueError(_with_hint(f"{name} must be >= 0, got {value}", hint))
    if minimum is not None and value < minimum:
        raise ValueError(_with_hint(f"{name} must be >= {minimum}, got {value}", hint))
    if maximum is not None and value > maximum:
        raise ValueError(_with_hint(f"{name} must be <= {maximum}, got {value}", hint))
    return value


def check_probability(name: str, value: Any, closed: bool = True, hint: str | None = None) -> float:
    """A probability or fraction: a finite float in ``[0, 1]`` (``closed=False``: ``[0, 1)``)."""
    value = check_real(name, value, hint=hint)
    if not (0.0 <= value <= 1.0) or (not closed and value == 1.0):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(_with_hint(f"{name} must lie in {interval}, got {value}", hint))
    return value


def check_choice(name: str, value: Any, known: Sequence[str]) -> str:
    """One of the names in ``known``; the error lists them."""
    if not isinstance(value, str) or value not in known:
        raise ValueError(f"unknown {name} {value!r}; known: {', '.join(sorted(known))}")
    return value


def check_callable(name: str, value: Any, signature: str | None = None) -> Any:
    """A callable; ``signature`` (e.g. ``"f(t, y) -> dy/dt"``) is shown in the error."""
    if not callable(value):
        wanted = f"callable as {signature}" if signature else "callable"
        raise ArgumentTypeError(f"{name} must be {wanted}, got {type(value).__name__}")
    return value


def check_tensor(name: str, value: Any, *, ndim: int | None = None, min_ndim: int | None = None,
                 floating: bool = False, finite: bool = False, shape: Sequence[int | None] | None = None,
                 layout: str | None = None) -> torch.Tensor:
    """A tensor of the expected rank, dtype kind and shape.

    ``shape`` may hold ``None`` for free axes; ``layout`` (e.g. ``"(batch, channels, *space)"``)
    is quoted in the error. ``finite`` checks for NaN/Inf (one host sync).
    """
    described = f" {layout}" if layout else ""
    if not isinstance(value, torch.Tensor):
        raise ArgumentTypeError(f"{name} must be a tensor{described}, got {type(value).__name__}")
    if ndim is not None and value.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions{described}, got shape {tuple(value.shape)}")
    if min_ndim is not None and value.dim() < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions{described}, got shape "
                         f"{tuple(value.shape)}")
    if shape is not None:
        if value.dim() != len(shape) or any(w is not None and g != w for g, w in zip(value.shape, shape)):
            wanted = "(" + ", ".join("*" if w is None else str(w) for w in shape) + ")"
            raise ValueError(f"{name} must have shape {wanted}{described}, got {tuple(value.shape)}")
    if floating and not value.is_floating_point():
        raise ArgumentTypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}; convert it with "
                        f".double() or .float()")
    if finite and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or Inf")
    return value


def check_model_input(model: str, x: Any, *, layout: str, ndim: int | None = None, min_ndim: int | None = None,
                      channels: int | None = None, channel_axis: int = 1, dtype: torch.dtype | None = None,
                      hint: str | None = None) -> torch.Tensor:
    """The input of a model's ``forward``: a floating tensor of rank ``ndim`` (or at least
    ``min_ndim``) with ``channels`` entries on ``channel_axis`` and the dtype ``dtype`` of
    the model's weights. The error names the model, quotes ``layout`` (e.g. ``"(batch, 1,
    H, W)"``) and says how to convert. Reads only shapes and dtypes (no host sync)."""
    if not isinstance(x, torch.Tensor):
        raise ArgumentTypeError(_with_hint(f"{model} expects a tensor {layout}, got {type(x).__name__}", hint))
    rank_ok = (ndim is None or x.dim() == ndim) and (min_ndim is None or x.dim() >= min_ndim)
    if not rank_ok or (channels is not None and x.dim() > 0 and x.shape[channel_axis] != channels):
        raise ValueError(_with_hint(f"{model} expects {layout}, got shape {tuple(x.shape)}", hint))
    if not x.is_floating_point():
        raise ArgumentTypeError(f"{model} expects a floating-point tensor {layout}, got dtype {x.dtype}; convert it "
                                f"with x.to({dtype or torch.float32})")
    if dtype is not None and x.dtype != dtype:
        raise ArgumentTypeError(f"{model} has {dtype} weights but got a {x.dtype} input {layout}; convert the input "
                                f"with x.to({dtype}) or the model with model.to({x.dtype})")
    return x


def check_tolerance(name: str, value: Any, dtype: torch.dtype, *, absolute: bool = False) -> float:
    """A solver tolerance that states of ``dtype`` can meet, as a float.

    A relative tolerance more than ten times below the machine epsilon of ``dtype``
    asks for digits the dtype does not hold (rounding one addition already costs
    ``eps |y| / 2``), so an adaptive solver shrinks its step until it underflows or runs
    out of steps. (Down to ``eps / 10`` the embedded error estimate, whose rounding
    shrinks with the step, can still be met; float32 solves at ``rtol = 1.4e-8`` are
    common in the neural-ODE literature.) An absolute tolerance below the smallest
    normal number of ``dtype`` underflows when it is added to the error scale.
    ``value`` must first be a finite number > 0 (:func:`check_real`).
    """
    value = check_real(name, value, positive=True)
    info = torch.finfo(dtype)
    floor, what = (info.tiny, "the smallest normal number") if absolute else (info.eps / 10, "a tenth of the eps")
    if value < floor:
        wider = ("float64 is already the widest dtype, so use" if dtype == torch.float64 else
                 "solve in a wider dtype (y0.double()) or use")
        raise ValueError(f"{name}={value:g} is below {what} of {dtype} ({floor:.3g}; eps={info.eps:.3g}), so no "
                         f"solver step can meet it; {wider} {name} >= {floor:.2g}")
    return value


def check_mapping(name: str, value: Any, what: str, check: Any, example: str = "{'val': ...}") -> dict:
    """``value`` as a dict ``{str name: entry}`` (``None`` gives ``{}``) with every entry
    passing ``check(where, entry)``; ``what`` describes an entry in the error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ArgumentTypeError(f"{name} must be a dict {{name: {what}}}, got {type(value).__name__} "
                                f"{value!r:.60}; e.g. {name}={example}")
    for key, entry in value.items():
        if not isinstance(key, str):
            raise ArgumentTypeError(f"{name} keys must be names (str), got {key!r}")
        check(f"{name}[{key!r}]", entry)
    return dict(value)
