"""Public ODE interface: ``solve_ode``, the torchdiffeq-compatible ``odeint`` and
``step_error`` for local regularisation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple, Union

import torch

from sciml.validation import ArgumentTypeError, check_callable, check_choice, check_int

from ._adjoint import BacksolveAdjoint, BacksolveFunction, augmented_dynamics
from ._checks import check_flag, check_output, check_positive, check_state, check_times, check_tolerances
from ._controller import IController, PIController
from ._integrate import Config, Stats, adaptive_per_sample, adaptive_shared, fixed
from ._rk import rk_step, scaled_error, stiffness_estimate
from ._state import State, StateLayout
from ._tableau import TABLEAUX

__all__ = ["ODESolution", "StepError", "odeint", "solve_ode", "step_error"]

Number = Union[float, torch.Tensor]


@dataclass
class ODESolution:
    """Result of :func:`solve_ode`.

    Attributes:
        ts: the requested times, shape ``(T,)``.
        ys: states at ``ts``, shape ``(T, *y0.shape)`` (a tuple for tuple states).
        stats: solver counters and differentiable diagnostics, see :class:`Stats`.
    """

    ts: torch.Tensor
    ys: State
    stats: Stats


def _checked(func: Callable, layout: StateLayout, y0: State) -> Callable:
    """``layout.wrap(func)`` whose first call also validates what ``func`` returns."""
    flat = layout.wrap(func)
    checked = [False]

    def first_call(t, y):
        if checked[0]:
            return flat(t, y)
        out = func(t, layout.unflatten(y))
        check_output(out, y0, layout.is_tuple)
        checked[0] = True
        return layout.flatten(out)

    return first_call


def _solve(f: Callable, y0: torch.Tensor, times: list[float], cfg: Config, dt, adaptive: bool, per_sample: bool):
    """Dispatch to a loop; integrates decreasing ``times`` by reversing time."""
    if len(times) == 1:
        return y0.unsqueeze(0), Stats()
    reverse = times[1] < times[0]
    if reverse:
        def g(s, y):
            return -f(-s, y)
        times = [-s for s in times]
    else:
        g = f
    if not adaptive:
        ys, stats = fixed(g, cfg, y0, times, dt, per_sample)
    elif per_sample:
        ys, stats = adaptive_per_sample(g, cfg, y0, times, dt)
    else:
        ys, stats = adaptive_shared(g, cfg, y0, times, dt)
    if reverse and stats.step_ts is not None:
        stats.step_ts = [-s for s in stats.step_ts]
    return ys, stats


def solve_ode(
    func: Callable,
    y0: State,
    t: torch.Tensor,
    *,
    method: str = "tsit5",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    dt: float | None = None,
    adaptive: bool | None = None,
    controller: PIController | None = None,
    adjoint: bool | BacksolveAdjoint = False,
    max_steps: int = 100_000,
    per_sample: bool = False,
    stiffness: bool = False,
) -> ODESolution:
    """Solve ``dy/dt = func(t, y)`` from ``y(t[0]) = y0`` and return ``y`` at every ``t``.

    Args:
        func: ``func(t, y) -> dy/dt`` with ``y`` shaped like ``y0`` (a tensor or a
            tuple of tensors). ``t`` is a 0-d tensor, or shape ``(batch,)`` when
            ``per_sample=True``; it has ``y0``'s dtype.
        y0: initial state (any shape; with ``per_sample`` the first axis is the batch).
        t: strictly increasing or strictly decreasing output times, shape ``(T,)``.
        method: one of euler, midpoint, heun, ssprk3, rk4 (fixed step), bosh3, dopri5,
            tsit5 (adaptive, embedded error estimate, FSAL, dense output); see ``TABLEAUX``.
        rtol, atol: relative and absolute tolerance (``rtol >= eps / 10`` and
            ``atol >=`` the smallest normal number of ``y0``'s dtype) of the scaled RMS error
            ``E = RMS(err / (atol + rtol max(|y_n|, |y_n+1|)))``; a step is accepted iff
            ``E <= 1``. Also used for ``stats.error_sum`` in fixed-step mode.
        dt: the step size of fixed-step solves (default: one step per output
            interval), or the first step of adaptive solves (default: Hairer's
            automatic choice, which costs one evaluation).
        adaptive: default True for methods with an error estimate; ``False`` runs
            them at fixed step ``dt``.
        controller: step-size controller (default :class:`PIController`).
        adjoint: ``False`` backpropagates through the solver (exact gradient of the
            discrete solution, memory grows with the steps); ``True`` or a
            :class:`BacksolveAdjoint` solves the adjoint system backwards (O(1)
            memory, gradient accurate to the backward tolerances).
        max_steps: the solve fails with :class:`MaxStepsError` beyond this many
            (accepted plus rejected) steps, and earlier when it cannot finish within
            them: dopri5/tsit5 run Hairer's stiffness test and stop once the step is
            held by stability with too many steps left; with one step size for the
            batch, after ``max(1000, max_steps / 20)`` attempts in a row whose step
            leaves more steps to go than are allowed. A fixed-step solution that turns
            non-finite or grows through an unstable step raises
            :class:`InstabilityError` (checked once per solve).
        per_sample: give every element of the leading batch axis its own time, step
            size and accept/reject decision (results do not depend on what else is
            in the batch); stats become per-sample tensors.
        stiffness: also accumulate ``stats.stiffness_sum`` (needs a method with two
            stages at one abscissa: dopri5, tsit5, rk4).

    Returns:
        :class:`ODESolution` with ``ys`` of shape ``(T, *y0.shape)``.

    Dense output: adaptive methods step past the requested times and interpolate
    with the method's interpolant: 4th order for dopri5 (Shampine 1986) and tsit5
    (Tsitouras 2011), cubic Hermite (3rd order) for bosh3. The final time is hit
    exactly. Fixed-step methods step onto every requested time.

    Example:
        >>> import torch
        >>> from sciml.solvers import solve_ode
        >>> sol = solve_ode(lambda t, y: -y, torch.tensor([1.0], dtype=torch.float64),
        ...                 torch.tensor([0.0, 1.0], dtype=torch.float64), rtol=1e-10, atol=1e-12)
        >>> round(sol.ys[-1].item(), 9)
        0.367879441
    """
    check_callable("func", func, "func(t, y)")
    check_choice("method", method, TABLEAUX)
    tab = TABLEAUX[method]
    per_sample = check_flag("per_sample", per_sample)
    stiffness = check_flag("stiffness", stiffness)
    adaptive = check_flag("adaptive", adaptive, allow_none=True)
    check_state(y0, per_sample)
    dtype = (y0 if isinstance(y0, torch.Tensor) else y0[0]).dtype
    rtol, atol = check_tolerances(rtol, atol, dtype)
    dt = check_positive("dt", dt, allow_none=True)
    if adaptive is None:
        adaptive = tab.adaptive
    if adaptive and not tab.adaptive:
        adaptive_names = sorted(n for n, tb in TABLEAUX.items() if tb.adaptive)
        raise ValueError(f"method {method!r} has no embedded error estimate and cannot adapt its step; "
                         f"use one of {', '.join(adaptive_names)} or pass adaptive=False with dt")
    if stiffness and tab.stiffness_pair is None:
        raise ValueError(f"method {method!r} has no two stages at one abscissa, so no stiffness estimate; "
                         f"use dopri5, tsit5 or rk4, or pass stiffness=False")
    max_steps = check_int("max_steps", max_steps)
    if controller is None:
        controller = PIController()
    elif not isinstance(controller, PIController):
        raise TypeError(f"controller must be an IController or PIController, got {type(controller).__name__}")
    if adjoint is True:
        adjoint = BacksolveAdjoint()
    elif adjoint is not False and not isinstance(adjoint, BacksolveAdjoint):
        raise TypeError(f"adjoint must be False, True or a BacksolveAdjoint, got {type(adjoint).__name__}")
    times = check_times(t)
    device = (y0 if isinstance(y0, torch.Tensor) else y0[0]).device
    ts = t.detach() if isinstance(t, torch.Tensor) else torch.tensor(times, dtype=torch.float64, device=device)

    layout = StateLayout(y0, per_sample)
    f = _checked(func, layout, y0)
    y0_flat = layout.flatten(y0)
    cfg = Config(tab, rtol, atol, controller, max_steps, stiffness)
    if adjoint is False:
        ys, stats = _solve(f, y0_flat, times, cfg, dt, adaptive, per_sample)
    else:
        ys, stats = _solve_adjoint(f, func, y0_flat, times, cfg, dt, adaptive, per_sample, adjoint)
    return ODESolution(ts=ts, ys=layout.unflatten(ys), stats=stats)


def _solve_adjoint(f, func, y0_flat, times, cfg, dt, adaptive, per_sample, adjoint: BacksolveAdjoint):
    params = adjoint.resolve_params(func)
    method = adjoint.method or cfg.tableau.name
    check_choice("adjoint method", method, TABLEAUX)
    n = y0_flat.numel()
    back_rtol, back_atol = check_tolerances(cfg.rtol if adjoint.rtol is None else adjoint.rtol,
                                            cfg.atol if adjoint.atol is None else adjoint.atol, y0_flat.dtype,
                                            prefix="adjoint ")
    back_cfg = Config(TABLEAUX[method], back_rtol, back_atol, cfg.controller, cfg.max_steps,
                      components=2 * n if adjoint.seminorm else None)
    if adaptive and not TABLEAUX[method].adaptive:
        raise ValueError(f"the adjoint method {method!r} is fixed-step but the forward solve is adaptive, so the "
                         f"backward solve would have no step size; use an adaptive adjoint method (bosh3, dopri5, "
                         f"tsit5) or solve forward with adaptive=False and dt")
    back_adaptive = adaptive
    if per_sample:
        batch = y0_flat.shape[0]

        def f_shared(t, y):
            return f(t.expand(batch), y.view(y0_flat.shape)).reshape(1, -1)
    else:
        f_shared = f
    aug = augmented_dynamics(f_shared, params, n)

    def forward_solve(y0):
        return _solve(f, y0, times, cfg, dt, adaptive, per_sample)

    def backward_solve(ys, grad_ys):
        ys, grad_ys = ys.reshape(len(times), 1, -1), grad_ys.reshape(len(times), 1, -1)
        y, a = ys[-1], grad_ys[-1]
        g = torch.zeros(1, sum(p.numel() for p in params), dtype=ys.dtype, device=ys.device)
        nfe = 0
        for i in range(len(times) - 1, 0, -1):
            zs, st = _solve(aug, torch.cat([y, a, g], dim=1), [times[i], times[i - 1]], back_cfg,
                            None if back_adaptive else dt, back_adaptive, False)
            nfe += st.nfe
            z = zs[-1]
            y, a, g = ys[i - 1], z[:, n: 2 * n] + grad_ys[i - 1], z[:, 2 * n:]
        grads = torch.split(g.reshape(-1), [p.numel() for p in params]) if params else ()
        return a.view(y0_flat.shape), [gp.view(p.shape).to(p.dtype) for gp, p in zip(grads, params)], nfe

    box: list[Stats] = []
    ys = BacksolveFunction.apply(forward_solve, backward_solve, box, y0_flat, *params)
    return ys, box[0]


def odeint(
    func: Callable,
    y0: State,
    t: torch.Tensor,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    method: str | None = None,
    options: dict | None = None,
) -> State:
    """Drop-in replacement for ``torchdiffeq.odeint``: returns ``y`` at every ``t``,
    shape ``(T, *y0.shape)``.

    ``method`` defaults to dopri5 and the controller to torchdiffeq's integral
    controller. ``options`` keys: ``step_size`` (fixed-step methods), ``first_step``
    (adaptive methods), ``max_num_steps``, ``safety``, ``ifactor``, ``dfactor``.
    Use :func:`solve_ode` for statistics, per-sample steps and the adjoint.
    """
    known = {"step_size", "first_step", "max_num_steps", "safety", "ifactor", "dfactor"}
    if options is not None and not isinstance(options, dict):
        raise ArgumentTypeError(f"options must be a dict such as {{'step_size': 0.01}} or None, got "
                                f"{options!r} ({type(options).__name__}); known keys: {', '.join(sorted(known))}")
    options = dict(options or {})
    unknown = set(options) - known
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; known: {', '.join(sorted(known))}")
    method = method or "dopri5"
    check_choice("method", method, TABLEAUX)
    adaptive = TABLEAUX[method].adaptive
    if "step_size" in options and adaptive:
        raise ValueError(f"option step_size is for fixed-step methods; {method!r} is adaptive (use first_step, "
                         f"or solve_ode(..., adaptive=False, dt=...))")
    if "first_step" in options and not adaptive:
        raise ValueError(f"option first_step is for adaptive methods; {method!r} is fixed-step (use step_size)")
    controller = IController(
        safety=options.get("safety", 0.9), max_factor=options.get("ifactor", 10.0),
        min_factor=options.get("dfactor", 0.2),
    )
    sol = solve_ode(
        func, y0, t, method=method, rtol=rtol, atol=atol,
        dt=options.get("step_size", options.get("first_step")), controller=controller,
        max_steps=options.get("max_num_steps", 100_000),
    )
    return sol.ys


class StepError(NamedTuple):
    """One step's diagnostics from :func:`step_error`."""

    error: torch.Tensor  # scaled error estimate E (0-d, or (batch,) per sample)
    stiffness: torch.Tensor | None  # Hairer stiffness estimate S, None if the method has none
    nfe: int  # evaluations of func used


def step_error(
    func: Callable,
    t: Number,
    y: State,
    h: Number,
    method: str = "tsit5",
    *,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    per_sample: bool = False,
) -> StepError:
    """Take one differentiable step of ``method`` from ``(t, y)`` with step ``h`` and
    return its scaled error estimate ``E`` and stiffness estimate ``S`` (the
    quantities whose ``|h| E`` and ``|h| S`` sums form ``stats.error_sum`` and
    ``stats.stiffness_sum``). With ``per_sample``, ``t`` and ``h`` may be tensors of
    shape ``(batch,)`` and the estimates are per sample.
    """
    check_choice("method", method, TABLEAUX)
    tab = TABLEAUX[method]
    if not tab.adaptive:
        raise ValueError(f"method {method!r} has no embedded error estimate; use bosh3, dopri5 or tsit5")
    per_sample = check_flag("per_sample", per_sample)
    check_state(y, per_sample)
    rtol, atol = check_tolerances(rtol, atol, (y if isinstance(y, torch.Tensor) else y[0]).dtype)
    layout = StateLayout(y, per_sample)
    f = _checked(func, layout, y)
    y_flat = layout.flatten(y)
    dtype, device = y_flat.dtype, y_flat.device
    if per_sample:
        batch = y_flat.shape[0]
        t_vec = torch.as_tensor(t, dtype=dtype, device=device).expand(batch)
        h_vec = torch.as_tensor(h, dtype=dtype, device=device).expand(batch)
        h_step = h_vec.unsqueeze(-1)

        def time_of(c):
            return t_vec + c * h_vec
    else:
        t_vec = torch.as_tensor(t, dtype=dtype, device=device)
        h_step = float(h)

        def time_of(c):
            return t_vec + c * h_step
    if not bool(torch.all(torch.as_tensor(h) > 0)):
        raise ValueError(f"h must be > 0, got {h}")
    step = rk_step(tab, f, y_flat, h_step, f(t_vec, y_flat), time_of)
    err = scaled_error(step, y_flat, h_step, rtol, atol)
    stiff = stiffness_estimate(tab, step) if tab.stiffness_pair is not None else None
    if not per_sample:
        err, stiff = err.reshape(()), None if stiff is None else stiff.reshape(())
    return StepError(err, stiff, tab.stages)
