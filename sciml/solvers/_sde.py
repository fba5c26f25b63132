"""Public SDE interface: ``solve_sde`` and the torchsde-compatible ``sdeint``, with
the fixed-step and adaptive loops.

An SDE is any object with ``f(t, y)``, ``g(t, y)``, ``noise_type`` (diagonal, scalar,
additive, general) and ``sde_type`` (ito, stratonovich), as in torchsde; ``y`` has
shape ``(batch, d)``; see ``_sde_methods.py`` for the shapes of ``g``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from sciml.validation import check_int, check_seed

from ._brownian import BrownianPath, GridBrownian, brownian_increments
from ._checks import check_flag, check_positive, check_times, check_tolerances
from ._controller import IController, PIController
from ._errors import InstabilityError, MaxStepsError, StepSizeUnderflowError
from ._norms import scaled_rms
from ._sde_adjoint import reversible_heun_adjoint
from ._sde_error import step_with_error
from ._sde_methods import METHODS
from ._sde_problem import CountedSDE, check_sde, noise_dim
from ._sde_solution import SDESolution, SDEStats

__all__ = ["sdeint", "solve_sde"]

# The controller of adaptive SDE stepping unless one is given: h_next = h clip(0.9 E^(-1/q), 0.2, 10)
# after every attempt, growth allowed right after a rejection (the SDE loop's rule before it used
# the controller objects; keeping it keeps every adaptive SDE solve step for step).
_DEFAULT_CONTROLLER = IController(safety=0.9, min_factor=0.2, max_factor=10.0, hold_after_reject=False)


# Adaptive stepping stops with MaxStepsError once this many consecutive attempts had a
# step size at which the rest of the interval needs more steps than max_steps has left.
_PATIENCE = 100


def _step_counts(times: list[float], dt: float) -> list[int]:
    """The number of equal steps <= dt of each output interval."""
    return [max(1, math.ceil((b - a) / dt - 1e-9)) for a, b in zip(times[:-1], times[1:])]


def _grid(times: list[float], counts: list[int]) -> tuple[list[float], list[int]]:
    """Steps onto every output time: interval ``i`` is split into ``counts[i]`` equal
    steps. Returns the grid and the grid index of each output time."""
    grid, where = [times[0]], [0]
    for a, b, n in zip(times[:-1], times[1:], counts):
        grid.extend(a + (b - a) * k / n for k in range(1, n))
        grid.append(b)
        where.append(len(grid) - 1)
    return grid, where


def solve_sde(
    sde: Any,
    y0: torch.Tensor,
    ts: torch.Tensor,
    *,
    bm: Any = None,
    method: str | None = None,
    dt: float = 1e-3,
    adaptive: bool = False,
    rtol: float = 1e-5,
    atol: float = 1e-4,
    dt_min: float = 1e-5,
    controller: PIController | None = None,
    logqp: bool = False,
    adjoint: bool = False,
    seed: int | None = None,
    max_steps: int = 1_000_000,
) -> SDESolution:
    """Solve ``dy = f(t, y) dt + g(t, y) dW`` from ``y(ts[0]) = y0``.

    Args:
        sde: object with ``f``, ``g``, ``noise_type``, ``sde_type`` (and ``h`` for logqp).
        y0: ``(batch, d)`` initial state.
        ts: strictly increasing output times ``(T,)``.
        bm: a Brownian path with ``bm(ta, tb) -> W(tb) - W(ta)`` of shape
            ``(batch, m)`` (e.g. :class:`BrownianPath`, or torchsde's); default: a new
            :class:`BrownianPath` seeded by ``seed``.
        method: euler, milstein, srk (Itô); heun, midpoint, milstein, reversible_heun
            (Stratonovich). Default as torchsde: srk for Itô (euler for general
            noise), midpoint for Stratonovich.
        dt: fixed step (each output interval is split into equal steps <= dt), or the
            first step of adaptive stepping.
        adaptive: error-controlled steps, one step size for the batch: heun uses its
            embedded estimate (Heun minus its Euler predictor), the other methods step
            doubling (a step of ``h`` against two of ``h/2``, keeping the latter).
        rtol, atol, dt_min: tolerances and smallest step of adaptive stepping: a step
            is accepted iff its scaled RMS error ``E <= 1`` (or it is already at
            ``dt_min``).
        controller: step-size controller of adaptive stepping, as for ``solve_ode``
            (an :class:`IController` or :class:`PIController`, with ``q = strong order
            + 1/2``). Default: ``IController(hold_after_reject=False)``, i.e.
            ``h_next = h clip(0.9 E^(-1/q), 0.2, 10)`` after every attempt.
        logqp: also return ``int 1/2 |(f - h) / g|^2 dt`` per output interval (diagonal
            noise; left-point rule on each step), the KL integrand of latent SDEs.
        adjoint: exact gradients in O(1) memory by the reversible Heun adjoint
            (method must be reversible_heun, fixed steps).
        seed: seed of the default Brownian path (default: drawn from torch's global
            generator, so ``torch.manual_seed`` makes solves reproducible).
        max_steps: limit on the number of steps (accepted plus rejected). A fixed grid
            is counted before it is built; adaptive stepping stops early with
            :class:`MaxStepsError` once 100 attempts in a row had a step at which the
            rest of the interval needs more steps than are left.

    Raises :class:`InstabilityError` when a fixed-step solution turns non-finite or
    exceeds the square root of the dtype's largest number.
    """
    method = check_sde(sde, y0, method)
    times = check_times(ts, "ts")
    if len(times) > 1 and times[1] < times[0]:
        raise ValueError("ts must be strictly increasing (monotone forward in time) for SDEs")
    dt = check_positive("dt", dt)
    rtol, atol = check_tolerances(rtol, atol, y0.dtype)
    dt_min = check_positive("dt_min", dt_min)
    adaptive, logqp = check_flag("adaptive", adaptive), check_flag("logqp", logqp)
    adjoint = check_flag("adjoint", adjoint)
    resolution = 4 * torch.finfo(y0.dtype).eps * max(abs(times[0]), abs(times[-1]), 1e-30)
    if adaptive and dt_min < resolution:
        raise ValueError(f"dt_min={dt_min:g} is below what {y0.dtype} time can resolve on [{times[0]:g}, "
                         f"{times[-1]:g}] (4 eps max|t| = {resolution:.3g}), so steps of that size make no "
                         f"progress; use dt_min >= {resolution:.2g}")
    max_steps = check_int("max_steps", max_steps)
    if seed is not None:
        seed = check_seed("seed", seed)
    if controller is None:
        controller = _DEFAULT_CONTROLLER
    elif not isinstance(controller, PIController):
        raise TypeError(f"controller must be an IController or PIController, got {type(controller).__name__}")
    scheme = METHODS[method]
    if logqp and (sde.noise_type != "diagonal" or not hasattr(sde, "h")):
        raise ValueError("logqp=True needs diagonal noise and a prior drift sde.h(t, y)")
    if logqp and adjoint:
        raise ValueError("logqp=True is not available with the reversible adjoint; use adjoint=False")
    if adjoint and (method != "reversible_heun" or adaptive):
        raise ValueError("adjoint=True is the reversible Heun adjoint: use method='reversible_heun' with fixed steps "
                         "(or adjoint=False to backpropagate through any solver)")
    m = noise_dim(sde, y0)
    t0, t1 = times[0], times[-1]
    if bm is None:
        if seed is None:
            seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
        if adaptive:
            bm = BrownianPath(t0, t1, (y0.shape[0], m), seed=seed, dtype=y0.dtype, device=y0.device,
                              levy_area=scheme.levy_area)
        else:
            bm = GridBrownian((y0.shape[0], m), seed, y0.dtype, y0.device)
    else:
        if not callable(bm):
            raise TypeError(f"bm must be a Brownian path, bm(ta, tb) -> W(tb) - W(ta), got {type(bm).__name__}")
        bm_shape = getattr(bm, "shape", None)
        if bm_shape is not None and tuple(bm_shape) != (y0.shape[0], m):
            raise ValueError(f"bm has shape {tuple(bm_shape)} but this solve needs (batch, noise dim) = "
                             f"({y0.shape[0]}, {m}) for y0 of shape {tuple(y0.shape)}; build it as "
                             f"BrownianPath(t0, t1, ({y0.shape[0]}, {m}), ...)")
    if scheme.levy_area and not hasattr(bm, "space_time_levy_area"):
        raise ValueError(f"method {method!r} needs the space-time Lévy area; pass a BrownianPath(levy_area=True) "
                         f"or use another method")
    counted = CountedSDE(sde, y0, m)
    ts_out = ts.detach() if isinstance(ts, torch.Tensor) else torch.tensor(times, dtype=y0.dtype)
    if len(times) == 1:
        return SDESolution(ts_out, y0.unsqueeze(0), None, SDEStats())
    if hasattr(sde, "check_step"):
        sde.check_step(dt)
    if adaptive:
        return _adaptive(counted, scheme, y0, times, ts_out, bm, dt, rtol, atol, dt_min, controller, logqp,
                         max_steps)
    counts = _step_counts(times, dt)
    if sum(counts) > max_steps:  # before the grid is built
        raise MaxStepsError(f"the grid from t={t0:g} to t={t1:g} with dt={dt:g} needs {sum(counts)} steps, more "
                            f"than max_steps={max_steps}; raise max_steps or use a larger dt")
    grid, where = _grid(times, counts)
    if adjoint:
        return reversible_heun_adjoint(counted, y0, grid, where, ts_out, bm)
    ys, log_ratio = _fixed(counted, scheme, y0, grid, where, bm, logqp)
    _check_blow_up(counted, ys, times, dt, method)
    return SDESolution(ts_out, ys, log_ratio, SDEStats(nfe=counted.nfe, n_steps=len(grid) - 1,
                                                           step_ts=grid[1:]))


_GROWTH, _DRIFT_STABILITY = 1e3, 2.0  # see _check_blow_up


def _fixed(sde, scheme, y0, grid, where, bm, logqp):
    dws, hs = brownian_increments(bm, grid, scheme.levy_area, y0)
    dtype, device = y0.dtype, y0.device
    y = y0
    state = scheme.init_state(sde, torch.scalar_tensor(grid[0], dtype=dtype, device=device), y0) \
        if hasattr(scheme, "init_state") else None
    ys, ratios = [y0], []
    acc = torch.zeros(y0.shape[0], dtype=dtype, device=device) if logqp else None
    out = 1
    for n in range(len(grid) - 1):
        t = torch.scalar_tensor(grid[n], dtype=dtype, device=device)
        dt = torch.scalar_tensor(grid[n + 1] - grid[n], dtype=dtype, device=device)
        if logqp:
            acc = acc + _kl_rate(sde, t, y) * dt
        y, state = scheme.step(sde, t, dt, y, dws[n], None if hs is None else hs[n], state)
        if n + 1 == where[out]:
            ys.append(y)
            if logqp:
                ratios.append(acc)
                acc = torch.zeros_like(acc)
            out += 1
    return torch.stack(ys), (torch.stack(ratios) if logqp else None)


def _check_blow_up(sde, ys: torch.Tensor, times: list[float], dt: float, method: str) -> None:
    """Raise :class:`InstabilityError` if an output state is non-finite, beyond the
    square root of the dtype's largest number, or grown a thousandfold with a drift whose
    rate ``dt |f(t, y)| / |y|`` (max norms) at that state lies outside the real stability
    interval (2) of the method's drift step: growth an SDE can have (a geometric Brownian
    motion) keeps that rate small. One synchronisation; one extra drift evaluation (not
    counted in ``nfe``) only at a state that grew a thousandfold."""
    huge = torch.finfo(ys.dtype).max ** 0.5
    size = ys.detach().abs().flatten(2).amax(2).amax(1)  # (T,)
    bad = ~torch.isfinite(ys.detach()).flatten(1).all(1) | (size > huge)
    grown = size > _GROWTH * size[0].clamp_min(torch.finfo(ys.dtype).tiny)
    flags = torch.stack([bad.any(), grown.any()]).tolist()
    if flags[1] and not flags[0]:
        j = int(grown.nonzero()[0])
        t = torch.scalar_tensor(times[j], dtype=ys.dtype, device=ys.device)
        with torch.no_grad():
            rate = dt * float(sde.sde.f(t, ys[j]).abs().max()) / float(size[j])
        if rate > _DRIFT_STABILITY:
            raise InstabilityError(
                f"the SDE solution grew to max |y| = {float(size[j]):.3g} (from {float(size[0]):.3g}) by t={times[j]:g} "
                f"with dt={dt:g}, where dt |f| / |y| = {rate:.3g} lies outside the stability interval "
                f"({_DRIFT_STABILITY:g}) of the explicit {method} drift step: the drift is too stiff for this dt; "
                f"use a smaller dt or adaptive=True")
    if not flags[0]:
        return
    j = int(bad.nonzero()[0])
    what = "non-finite (NaN or Inf)" if not bool(torch.isfinite(ys[j]).all()) else f"exploding (|y| > {huge:.3g})"
    raise InstabilityError(
        f"the SDE solution became {what} between t={times[j - 1]:g} and t={times[j]:g} with dt={dt:g}: the drift is "
        f"probably too stiff for the explicit {method} step, or sde.f/sde.g turned NaN there; use a smaller dt, "
        f"adaptive=True, or check the SDE near that time")


def _kl_rate(sde, t, y):
    """``1/2 |(f - h) / g|^2`` summed over the state (diagonal noise)."""
    u = (sde.sde.f(t, y) - sde.h(t, y)) / sde.sde.g(t, y)
    return 0.5 * (u * u).sum(dim=1)


def _adaptive(sde, scheme, y0, times, ts_out, bm, dt, rtol, atol, dt_min, controller, logqp, max_steps):
    """Adaptive stepping with one step size for the batch, on the error estimate of
    ``_sde_error.step_with_error``. A step is accepted iff the scaled RMS error
    ``E <= 1`` over the whole state (or ``h <= dt_min``); ``controller`` picks the next
    step with ``q = strong order + 1/2``."""
    if logqp:
        raise ValueError("logqp=True is available with fixed steps (adaptive=False)")
    dtype, device = y0.dtype, y0.device
    q = scheme.strong_order + 0.5
    t, h, y = times[0], dt, y0
    state = scheme.init_state(sde, torch.scalar_tensor(t, dtype=dtype, device=device), y0) \
        if hasattr(scheme, "init_state") else None
    ctrl_state = controller.init_state(h)
    ys, out, n_acc, n_rej, step_ts = [y0], 1, 0, 0, []
    hopeless = 0  # consecutive attempts whose h needs more steps than are left
    err_sum = torch.zeros((), dtype=dtype, device=device)

    def increment(a, b):
        dw = bm(a, b)
        hh = bm.space_time_levy_area(a, b) if scheme.levy_area else None
        return dw, hh

    while out < len(times):
        if n_acc + n_rej >= max_steps:
            raise MaxStepsError(f"reached max_steps={max_steps} at t={t:.6g} (h={h:.3g}); raise max_steps or loosen "
                                f"rtol/atol")
        hopeless = hopeless + 1 if (times[-1] - t) / h > max_steps - n_acc - n_rej else 0
        if hopeless >= _PATIENCE:
            raise MaxStepsError(f"at t={t:.6g} the adaptive step h={h:.3g} has for {_PATIENCE} attempts been so small "
                                f"that reaching t_end={times[-1]:g} needs about {(times[-1] - t) / h:.3g} more steps, "
                                f"beyond what max_steps={max_steps} leaves; loosen rtol/atol, raise dt_min or raise "
                                f"max_steps")
        target = times[out]
        h = min(h, target - t)
        if h < dt_min and target - t > dt_min:
            raise StepSizeUnderflowError(f"adaptive step fell below dt_min={dt_min:g} at t={t:.6g} (h={h:.3g}); "
                                         f"loosen rtol/atol or lower dt_min")
        y_new, s_new, err_vec = step_with_error(sde, scheme, t, h, y, state, increment, dtype, device)
        err = scaled_rms(err_vec.reshape(1, -1), y.reshape(1, -1), y_new.reshape(1, -1), rtol, atol).reshape(())
        accept, h_next, ctrl_state = controller.adapt(h, err.item(), q, ctrl_state)  # the one sync of the step
        if accept or h <= dt_min:
            t = target if t + h >= target else t + h
            y, state = y_new, s_new
            n_acc += 1
            err_sum = err_sum + h * err
            step_ts.append(t)
            if t == target:
                ys.append(y)
                out += 1
        else:
            n_rej += 1
        h = h_next
    stats = SDEStats(nfe=sde.nfe, n_steps=n_acc, n_rejected=n_rej, error_sum=err_sum, step_ts=step_ts)
    return SDESolution(ts_out, torch.stack(ys), None, stats)


def sdeint(sde, y0, ts, bm=None, method=None, dt=1e-3, adaptive=False, rtol=1e-5, atol=1e-4, dt_min=1e-5,
           logqp=False):
    """Drop-in replacement for ``torchsde.sdeint``: returns ``ys`` of shape
    ``(T, batch, d)``, and ``(ys, log_ratio)`` with ``logqp=True``. Use
    :func:`solve_sde` for statistics, seeds and the reversible adjoint."""
    sol = solve_sde(sde, y0, ts, bm=bm, method=method, dt=dt, adaptive=adaptive, rtol=rtol, atol=atol,
                    dt_min=dt_min, logqp=logqp)
    return (sol.ys, sol.log_ratio) if logqp else sol.ys

