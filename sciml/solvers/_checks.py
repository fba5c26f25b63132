"""Validation of user input at the public solver boundary: the solver-specific checks
(states, output times, what ``func`` returns); generic ones come from ``sciml.validation``.

Every check raises ``ValueError`` or ``TypeError`` with what was given, what was
expected and how to fix it.
"""

from __future__ import annotations

import math

import torch

from sciml.validation import ArgumentTypeError, check_real, check_tolerance


def check_state(y0, per_sample: bool) -> None:
    """``y0`` is a finite floating tensor or a non-empty tuple of them on one device
    with one dtype; with ``per_sample`` every part has the same leading batch size."""
    parts = (y0,) if isinstance(y0, torch.Tensor) else y0
    if not isinstance(parts, (tuple, list)) or len(parts) == 0:
        raise TypeError(f"y0 must be a tensor or a non-empty tuple of tensors, got {type(y0).__name__}")
    for i, p in enumerate(parts):
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"y0[{i}] must be a tensor, got {type(p).__name__}")
        if not p.is_floating_point():
            raise TypeError(f"y0 must be floating point, got dtype {p.dtype}; convert it with y0.double() or y0.float()")
        if p.numel() == 0:
            raise ValueError(f"y0 part {i} is empty (shape {tuple(p.shape)})")
    if len({p.dtype for p in parts}) > 1 or len({p.device for p in parts}) > 1:
        raise ValueError("all parts of a tuple state must share one dtype and one device, got "
                         + ", ".join(f"{p.dtype} on {p.device}" for p in parts))
    if per_sample:
        batch = {p.shape[0] if p.dim() else None for p in parts}
        if None in batch or len(batch) > 1:
            raise ValueError("per_sample=True needs a leading batch dimension of one size on every part of y0, got shapes "
                             + ", ".join(str(tuple(p.shape)) for p in parts))
    for p in parts:
        if not bool(torch.isfinite(p).all()):
            raise ValueError("y0 contains NaN or Inf; the initial state must be finite")


def check_times(t, name: str = "t") -> list[float]:
    """A 1-D, finite, strictly monotone sequence of times, returned as Python floats;
    ``name`` is the argument's name in the errors (``"ts"`` for the SDE solvers)."""
    if isinstance(t, torch.Tensor):
        if t.requires_grad:
            raise ValueError(f"gradients with respect to the output times {name} are not supported; pass {name}.detach()")
        if t.dim() != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {tuple(t.shape)}")
        times = t.detach().cpu().double().tolist()
    else:
        try:
            times = [float(s) for s in t]
        except TypeError as err:
            raise TypeError(f"{name} must be a 1-D tensor or a sequence of numbers, got {type(t).__name__}") from err
    if len(times) == 0:
        raise ValueError(f"{name} is empty; give at least the initial time")
    if not all(math.isfinite(s) for s in times):
        raise ValueError(f"{name} contains NaN or Inf: {times}")
    diffs = [b - a for a, b in zip(times[:-1], times[1:])]
    if diffs and not (all(d > 0 for d in diffs) or all(d < 0 for d in diffs)):
        bad = next(i for i, d in enumerate(diffs) if (d <= 0) != (diffs[0] <= 0) or d == 0)
        raise ValueError(f"{name} must be monotone, strictly increasing (or strictly decreasing); {name}[{bad}]={times[bad]} and "
                         f"{name}[{bad + 1}]={times[bad + 1]} break that")
    return times


def check_positive(name: str, value, allow_none: bool = False) -> float | None:
    """``sciml.validation.check_real(name, value, positive=True)`` in the solvers' wording
    for a bad value: "``name`` must be a finite number > 0, got ``value``"."""
    try:
        return check_real(name, value, positive=True, allow_none=allow_none)
    except ArgumentTypeError:
        hint = f"; pass it as a number, e.g. {name}={float(value)!r}" if isinstance(value, str) and _parses(value) else ""
        raise ArgumentTypeError(f"{name} must be a finite number > 0, got {value!r} ({type(value).__name__}){hint}") \
            from None
    except ValueError:
        raise ValueError(f"{name} must be a finite number > 0, got {value}") from None


def _parses(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_tolerances(rtol, atol, dtype: torch.dtype, prefix: str = "") -> tuple[float, float]:
    """``rtol`` and ``atol`` as floats > 0 that states of ``dtype`` can meet (see
    ``sciml.validation.check_tolerance``); ``prefix`` names them (e.g. ``"adjoint "``)."""
    rtol = check_tolerance(f"{prefix}rtol", check_positive(f"{prefix}rtol", rtol), dtype)
    atol = check_tolerance(f"{prefix}atol", check_positive(f"{prefix}atol", atol), dtype, absolute=True)
    return rtol, atol


def check_flag(name: str, value, allow_none: bool = False) -> bool | None:
    """``True`` or ``False`` (or ``None`` with ``allow_none``); a truthy string or a
    number is not taken for a flag."""
    if value is None and allow_none:
        return None
    if not isinstance(value, bool):
        wanted = "True, False or None" if allow_none else "True or False"
        raise ArgumentTypeError(f"{name} must be {wanted}, got {value!r} ({type(value).__name__})")
    return value


def check_output(out, y0, is_tuple: bool) -> None:
    """``func(t, y)`` must return the structure, shapes, dtype and device of ``y``."""
    want = tuple(y0) if is_tuple else (y0,)
    if is_tuple:
        if not isinstance(out, (tuple, list)) or len(out) != len(want):
            raise ValueError(f"func must return a tuple of {len(want)} tensors like y0, got {type(out).__name__}")
        got = tuple(out)
    else:
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"func must return a tensor shaped like y0, got {type(out).__name__}")
        got = (out,)
    for i, (g, w) in enumerate(zip(got, want)):
        if not isinstance(g, torch.Tensor) or g.shape != w.shape:
            shape = tuple(g.shape) if isinstance(g, torch.Tensor) else type(g).__name__
            raise ValueError(f"func returned shape {shape} for state part {i}, expected {tuple(w.shape)} (the shape of y0)")
        if g.dtype != w.dtype or g.device != w.device:
            raise ArgumentTypeError(f"func returned a {g.dtype} tensor on {g.device} for state part {i}, but y0 is "
                                    f"{w.dtype} on {w.device}; make func return y0's dtype and device (e.g. move "
                                    f"its parameters with module.to(y0.dtype) or cast y0)")
