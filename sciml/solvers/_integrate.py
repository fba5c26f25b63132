"""The time-stepping loops of the ODE core.

Three loops share the RK step of ``_rk.py``:

* ``fixed``: steps onto every requested time (each interval split into equal steps
  no longer than ``dt``); one host-device synchronisation per solve, the blow-up
  test of ``_guards.py``.
* ``adaptive_shared``: one step size for the whole batch, one scalar error norm per
  step and one synchronisation per step (the accept decision).
* ``adaptive_per_sample``: every batch element has its own time, step size, accept
  decision and counters; one synchronisation per step (are all samples done, which
  requested times were passed).

All loops integrate forward in time on a flat state (see ``_state.py``) and return
the states at the requested times with a :class:`Stats` record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch

from ._controller import PIController
from ._errors import InstabilityError, MaxStepsError, StepSizeUnderflowError
from ._guards import RUN, StiffnessMonitor, step_is_unstable, stiff_runs, unstable_outputs
from ._initial_step import initial_step_size
from ._rk import dense_eval, rk_step, scaled_error, stiffness_estimate
from ._tableau import ButcherTableau


@dataclass
class Stats:
    """Counters and differentiable diagnostics of one solve.

    With one step size for the batch, counters are ints and sums are 0-d tensors;
    with ``per_sample=True`` they are tensors of shape ``(batch,)``.

    Attributes:
        nfe: evaluations of ``func`` in the forward solve (the automatic initial
            step's evaluation included).
        n_accepted, n_rejected: accepted and rejected steps.
        error_sum: ``sum_j |h_j| E_j`` over accepted steps, ``E_j`` the scaled
            embedded error estimate; differentiable when gradients flow through
            the solver (step sizes and accept decisions are constants). ``None``
            for methods without an embedded error estimate.
        stiffness_sum: ``sum_j |h_j| S_j`` with ``S_j`` Hairer's stiffness estimate,
            when requested.
        step_ts: end times of the accepted steps (shared step size only).
        step_errors: the accepted steps' scaled errors ``E_j`` as 0-d tensors
            (differentiable like ``error_sum``; adaptive shared step size only).
        nfe_backward: evaluations of the augmented dynamics in an adjoint backward
            pass, filled in when that pass runs.
    """

    nfe: int | torch.Tensor = 0
    n_accepted: int | torch.Tensor = 0
    n_rejected: int | torch.Tensor = 0
    error_sum: torch.Tensor | None = None
    stiffness_sum: torch.Tensor | None = None
    step_ts: list[float] | None = field(default=None, repr=False)
    nfe_backward: int = 0
    step_errors: list[torch.Tensor] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Config:
    tableau: ButcherTableau
    rtol: float
    atol: float
    controller: PIController
    max_steps: int
    stiffness: bool = False
    components: int | None = None  # seminorm: only the first entries enter the error norm


# The shared loop stops with MaxStepsError once this many consecutive attempts (at least
# _PATIENCE_MIN) had a step so small that the rest of the interval needs more steps than
# max_steps has left; an initial layer resolved with small steps ends long before.
_PATIENCE_FRACTION, _PATIENCE_MIN = 20, 1000

# A step that would end within 1% of the final time is stretched onto it, so no sliver
# step is left over (Hairer's DOPRI5 does the same).
_STRETCH = 1.01


def _time_maker(y0: torch.Tensor, batch: int | None) -> Callable[[float], torch.Tensor]:
    """Python float time -> the tensor handed to ``func`` (y0's dtype and device;
    shape ``(batch,)`` in per-sample mode). A fill, not a host-to-device copy."""
    dtype, device = y0.dtype, y0.device
    if batch is None:
        return lambda s: torch.scalar_tensor(s, dtype=dtype, device=device)
    return lambda s: torch.full((batch,), s, dtype=dtype, device=device)


def _check_f0(f0: torch.Tensor, t0: float) -> None:
    if not bool(torch.isfinite(f0).all()):
        raise ValueError(f"func returned NaN or Inf at the initial time t={t0:g}; check the vector field and y0")


# --------------------------------------------------------------------------- fixed


def fixed(f: Callable, cfg: Config, y0: torch.Tensor, t_out: list[float], dt: float | None, per_sample: bool):
    """Fixed steps: each interval ``[t_i, t_{i+1}]`` is split into
    ``ceil((t_{i+1} - t_i) / dt)`` equal steps (one step when ``dt`` is None)."""
    tab = cfg.tableau
    t0 = t_out[0]
    counts = [1 if dt is None else max(1, math.ceil((t_b - t_a) / dt - 1e-9))
              for t_a, t_b in zip(t_out[:-1], t_out[1:])]
    if sum(counts) > cfg.max_steps:
        raise MaxStepsError(
            f"the fixed grid from t={t0:g} to t={t_out[-1]:g} with h={dt if dt is not None else 'one step per output'} "
            f"needs {sum(counts)} steps, more than "
            f"max_steps={cfg.max_steps}; raise max_steps or use a larger dt")
    batch = y0.shape[0] if per_sample else None
    time_at = _time_maker(y0, batch)
    y, k1 = y0, f(time_at(t0), y0)
    _check_f0(k1, t0)
    nfe, n_steps = 1, 0
    track_error = tab.adaptive
    err_sum = torch.zeros(y0.shape[:-1], dtype=y0.dtype, device=y0.device) if track_error else None
    stiff_sum = torch.zeros(y0.shape[:-1], dtype=y0.dtype, device=y0.device) if cfg.stiffness else None
    ys, step_ts, unstable = [y0], [], []
    y0_max = y0.detach().abs().amax()
    for t_a, t_b, n in zip(t_out[:-1], t_out[1:], counts):
        h = (t_b - t_a) / n
        for m in range(n):
            t = t_a + m * h
            y_last, k_last = y, k1
            step = rk_step(tab, f, y, h, k1, lambda c: time_at(t + c * h))
            nfe += tab.stages - 1
            if track_error:
                err_sum = torch.add(err_sum, scaled_error(step, y, h, cfg.rtol, cfg.atol, cfg.components), alpha=h)
            if cfg.stiffness:
                stiff_sum = torch.add(stiff_sum, stiffness_estimate(tab, step), alpha=h)
            y = step.y1
            if tab.fsal:
                k1 = step.ks[-1]
            elif not (m == n - 1 and t_b == t_out[-1]):
                k1 = f(time_at(t + h), y)
                nfe += 1
            n_steps += 1
            step_ts.append(t_a + (m + 1) * h)
        ys.append(y)
        unstable.append(step_is_unstable(y_last, k_last, y, h, y0_max, tab.stability_size))
    bad = unstable_outputs(unstable)  # the one sync of the solve
    if bad is not None:
        _raise_unstable(tab, ys, t_out, counts, bad)
    stats = Stats(nfe=nfe, n_accepted=n_steps, error_sum=err_sum, stiffness_sum=stiff_sum,
                  step_ts=None if per_sample else step_ts)
    if not per_sample:
        stats.error_sum = None if err_sum is None else err_sum.reshape(())
        stats.stiffness_sum = None if stiff_sum is None else stiff_sum.reshape(())
    else:
        stats.nfe = torch.full((batch,), nfe, device=y0.device)
        stats.n_accepted = torch.full((batch,), n_steps, device=y0.device)
        stats.n_rejected = torch.zeros(batch, dtype=torch.long, device=y0.device)
    return torch.stack(ys), stats


def _raise_unstable(tab: ButcherTableau, ys: list, t_out: list[float], counts: list[int], j: int):
    """Report the first output interval ``[t_out[j], t_out[j + 1]]`` whose end state failed the blow-up test."""
    h = (t_out[j + 1] - t_out[j]) / counts[j]
    y = ys[j + 1]
    what = "non-finite (NaN or Inf)" if not bool(torch.isfinite(y).all()) else \
        f"exploding (max |y| = {float(y.abs().max()):.3g})"
    raise InstabilityError(
        f"the fixed-step {tab.name} solution became {what} between t={t_out[j]:g} and t={t_out[j + 1]:g} with "
        f"h={h:.3g}: the step is probably outside {tab.name}'s stability interval (h |lambda| <= "
        f"{tab.stability_size:.4g} for real negative eigenvalues lambda of the Jacobian) or func turned NaN there; "
        f"use a smaller dt, an adaptive method (tsit5, dopri5) or check func near that time")


def _stiff_message(tab: ButcherTableau, t: float, h: float, h_rho: float, t_end: float, needed: float,
                   max_steps: int, sample: str = "") -> str:
    return (f"the problem looks stiff{sample} at t={t:.6g}: the step h={h:.3g} is held by stability, not accuracy "
            f"(h |lambda| ~ {h_rho:.3g} at the edge of {tab.name}'s stability interval {tab.stability_size:.4g}), so "
            f"reaching t_end={t_end:g} needs about {needed:.3g} more steps, beyond max_steps={max_steps}; no implicit "
            f"method is available yet: shorten the time span, raise max_steps, rescale the fast dynamics, or use per_sample=True if only some samples are stiff")


def _underflow_message(t: float, h: float, dtype: torch.dtype, floor: float, sample: str = "") -> str:
    return (f"step size underflow{sample} at t={t:.6g}: h={h:.3g} is below what {dtype} time can resolve "
            f"(4 eps max(|t|) = {floor:.3g}); the solution may blow up (NaN/Inf) near here, the problem may be too "
            f"stiff for an explicit method, or {dtype} cannot resolve steps this small at this |t| (solve in "
            f"float64, or shift t towards 0)")


# -------------------------------------------------------------- adaptive, shared h


def adaptive_shared(f: Callable, cfg: Config, y0: torch.Tensor, t_out: list[float], dt: float | None):
    """Adaptive stepping with one step size for the whole (flat) state."""
    tab, ctrl = cfg.tableau, cfg.controller
    q = tab.error_order
    t0, t_end = t_out[0], t_out[-1]
    time_at = _time_maker(y0, None)
    t_base = time_at(t0)
    k1 = f(t_base, y0)
    _check_f0(k1, t0)
    nfe = 1
    if dt is None:
        with torch.no_grad():
            h = initial_step_size(f, t0, y0, q, cfg.rtol, cfg.atol, f0=k1)
        nfe += 1
    else:
        h = dt
    state = ctrl.init_state(h)
    min_step = 4 * torch.finfo(y0.dtype).eps
    monitor = StiffnessMonitor(tab)
    patience, hopeless = max(_PATIENCE_MIN, cfg.max_steps // _PATIENCE_FRACTION), 0
    zero = torch.zeros(1, dtype=y0.dtype, device=y0.device)
    err_sum, stiff_sum = zero, (zero if cfg.stiffness else None)
    ys, step_ts, step_errors = [y0], [], []
    y, t, j, n_acc, n_rej = y0, t0, 1, 0, 0
    n_out = len(t_out)
    while j < n_out:
        if n_acc + n_rej >= cfg.max_steps:
            raise MaxStepsError(
                f"reached max_steps={cfg.max_steps} at t={t:.6g} (h={h:.3g}) before t_end={t_end:g}; "
                f"the problem may be stiff or the tolerances too tight: raise max_steps, loosen rtol/atol "
                f"or use a stiff solver")
        if not h >= min_step * max(abs(t), abs(t_end), 1e-30):
            raise StepSizeUnderflowError(_underflow_message(t, h, y0.dtype, min_step * max(abs(t), abs(t_end))))
        hopeless = hopeless + 1 if (t_end - t) / h > cfg.max_steps - n_acc - n_rej else 0
        if hopeless >= patience:
            raise MaxStepsError(
                f"at t={t:.6g} the step h={h:.3g} has for {patience} attempts been so small that reaching "
                f"t_end={t_end:g} needs about {(t_end - t) / h:.3g} more steps, beyond what max_steps={cfg.max_steps} "
                f"leaves; the problem may be stiff or the tolerances too tight: raise max_steps, loosen rtol/atol "
                f"or shorten the time span")
        last = t + _STRETCH * h >= t_end
        if last:
            h = t_end - t
        t_start, h_used = t, h
        step = rk_step(tab, f, y, h, k1, lambda c: time_at(t_start + c * h_used))
        nfe += tab.stages - 1 if tab.fsal else tab.stages
        err = scaled_error(step, y, h, cfg.rtol, cfg.atol, cfg.components)
        test_stiff = monitor.wanted(n_acc)
        if test_stiff:  # the one sync of the step, also reading the stiffness estimate
            e_val, rho = torch.cat([err.detach().reshape(1), stiffness_estimate(tab, step).detach().reshape(1)]).tolist()
        else:
            e_val = err.item()  # the one sync of the step
        accept, h, state = ctrl.adapt(h, e_val, q, state)
        if not accept:
            n_rej += 1
            continue
        t = t_end if last else t + h_used
        n_acc += 1
        if test_stiff and monitor.stiff_after(h_used * rho):
            needed = (t_end - t) / h_used
            if n_acc + n_rej + needed > cfg.max_steps:
                raise MaxStepsError(_stiff_message(tab, t, h_used, h_used * rho, t_end, needed, cfg.max_steps))
        step_ts.append(t)
        step_errors.append(err.reshape(()))
        err_sum = torch.add(err_sum, err, alpha=h_used)
        if cfg.stiffness:
            stiff_sum = torch.add(stiff_sum, stiffness_estimate(tab, step), alpha=h_used)
        j_end = j
        while j_end < n_out and t_out[j_end] <= t:
            j_end += 1
        if j_end > j:
            exact = t_out[j_end - 1] == t
            thetas = [(s - t_start) / h_used for s in t_out[j: j_end - 1 if exact else j_end]]
            if thetas:
                ys.extend(dense_eval(tab, y, step.K, h_used, thetas).unbind(0))
            if exact:
                ys.append(step.y1)
            j = j_end
        y = step.y1
        if tab.fsal:
            k1 = step.ks[-1]
        else:
            k1 = f(time_at(t), y)
            nfe += 1
    return torch.stack(ys), Stats(
        nfe=nfe, n_accepted=n_acc, n_rejected=n_rej, error_sum=err_sum.reshape(()),
        stiffness_sum=None if stiff_sum is None else stiff_sum.reshape(()), step_ts=step_ts,
        step_errors=step_errors)


# ---------------------------------------------------------- adaptive, per-sample h


def _control_dtype(device: torch.device) -> torch.dtype:
    return torch.float32 if device.type == "mps" else torch.float64


def adaptive_per_sample(f: Callable, cfg: Config, y0: torch.Tensor, t_out: list[float], dt: float | None):
    """Adaptive stepping where sample ``b`` of ``y0`` (shape ``(batch, D)``) has its
    own time, step size and accept decision; ``f`` receives ``t`` of shape ``(batch,)``.
    Finished samples keep being evaluated (at their final state) but stop counting."""
    tab, ctrl = cfg.tableau, cfg.controller
    q = tab.error_order
    batch, dtype, device = y0.shape[0], y0.dtype, y0.device
    cdt = _control_dtype(device)
    t0, t_end = t_out[0], t_out[-1]
    n_out = len(t_out)
    grid = torch.tensor(t_out, dtype=cdt, device=device)
    t = torch.full((batch,), t0, dtype=cdt, device=device)
    k1 = f(t.to(dtype), y0)
    _check_f0(k1, t0)
    per_eval = torch.ones(batch, dtype=torch.long, device=device)
    nfe = per_eval.clone()
    if dt is None:
        with torch.no_grad():
            h = initial_step_size(f, t.to(dtype), y0, q, cfg.rtol, cfg.atol, f0=k1).to(cdt)
        nfe += 1
    else:
        h = torch.full((batch,), dt, dtype=cdt, device=device)
    state = ctrl.init_state(h)
    err_sum = torch.zeros(batch, dtype=dtype, device=device)
    stiff_sum = torch.zeros_like(err_sum) if cfg.stiffness else None
    n_acc = torch.zeros(batch, dtype=torch.long, device=device)
    n_rej = torch.zeros_like(n_acc)
    active = torch.ones(batch, dtype=torch.bool, device=device)
    outs: list = [y0] + [None] * (n_out - 1)
    stages_per_step = tab.stages - 1 if tab.fsal else tab.stages
    min_step = 4 * torch.finfo(dtype).eps * max(abs(t0), abs(t_end), 1e-30)
    limit = StiffnessMonitor(tab).limit
    run = calm = torch.zeros(batch, dtype=torch.long, device=device)
    doomed = torch.zeros(batch, dtype=torch.bool, device=device)
    patience = max(_PATIENCE_MIN, cfg.max_steps // _PATIENCE_FRACTION)
    hopeless = torch.zeros(batch, dtype=torch.long, device=device)
    y = y0
    for i in range(cfg.max_steps):
        h = torch.where(t + _STRETCH * h >= t_end, t_end - t, h)
        hy = h.to(dtype).unsqueeze(-1)
        t_start = t
        step = rk_step(tab, f, y, hy, k1, lambda c: (t_start + c * h).to(dtype))
        nfe += active * stages_per_step
        err = scaled_error(step, y, hy, cfg.rtol, cfg.atol, cfg.components)
        accept, h_next, new_state = ctrl.adapt(h, err.detach().to(cdt), q, state)
        accept = accept & active
        landed = accept & (h >= t_end - t)
        t = torch.where(landed, t_end, torch.where(accept, t + h, t))
        n_acc += accept
        n_rej += active & ~accept
        err_sum = err_sum + torch.where(accept, hy.squeeze(-1) * err, 0.0)
        if cfg.stiffness:
            stiff_sum = stiff_sum + torch.where(accept, hy.squeeze(-1) * stiffness_estimate(tab, step), 0.0)
        first = torch.searchsorted(grid, t_start, right=True)
        stop = torch.searchsorted(grid, t, right=True)
        y_prev, K = y, step.K
        acc = accept.unsqueeze(-1)
        y = torch.where(acc, step.y1, y)
        k1 = torch.where(acc, step.ks[-1], k1) if tab.fsal else torch.where(acc, f(t.to(dtype), y), k1)
        if not tab.fsal:
            nfe += active
        state = tuple(torch.where(active, new, old) for new, old in zip(new_state, state))
        h_used = h
        h = torch.where(active, h_next, h)
        active = t < t_end
        underflow = active & ~(h >= min_step)
        if limit is not None:
            h_rho = h_used * stiffness_estimate(tab, step).detach().to(cdt)
            run, calm = stiff_runs(run, calm, accept, h_rho, limit)
            doomed = active & (run >= RUN) & (i + 1 + (t_end - t) / h_used > cfg.max_steps)
        # a sample whose step has for `patience` attempts been too small to finish within the
        # steps max_steps leaves: stop at once rather than after max_steps (any method)
        short = active & ((t_end - t) / h > cfg.max_steps - (i + 1))
        hopeless = torch.where(short, hopeless + 1, 0)
        flags = torch.stack([
            active.any().long(), underflow.any().long(),
            torch.where(accept, first, n_out).min(), torch.where(accept, stop, 0).max(), doomed.any().long(),
            (hopeless >= patience).any().long(),
        ]).tolist()  # the one sync of the step
        any_active, any_underflow, lo, hi, any_doomed, any_hopeless = flags
        if hi > lo:
            _write_outputs(tab, outs, grid, lo, hi, y_prev, K, h_used, t_start, first, stop, accept, step.y1, dtype)
        if not any_active:
            break
        if any_underflow:
            b = int(underflow.nonzero()[0])
            raise StepSizeUnderflowError(_underflow_message(float(t[b]), float(h[b]), dtype, min_step,
                                                            f" for sample {b}"))
        if any_doomed:
            b = int(doomed.nonzero()[0])
            tb, hb = float(t[b]), float(h_used[b])
            raise MaxStepsError(_stiff_message(tab, tb, hb, float(h_rho[b]), t_end, (t_end - tb) / hb,
                                               cfg.max_steps, f" for sample {b}"))
        if any_hopeless:
            b = int((hopeless >= patience).nonzero()[0])
            tb, hb = float(t[b]), float(h[b])
            raise MaxStepsError(
                f"sample {b} at t={tb:.6g}: the step h={hb:.3g} has for {patience} attempts been so small that "
                f"reaching t_end={t_end:g} needs about {(t_end - tb) / hb:.3g} more steps, beyond what "
                f"max_steps={cfg.max_steps} leaves; the problem may be stiff or the tolerances too tight: raise "
                f"max_steps, loosen rtol/atol or shorten the time span")
    else:
        b = int(active.nonzero()[0])
        raise MaxStepsError(
            f"reached max_steps={cfg.max_steps} with sample {b} at t={float(t[b]):.6g} (h={float(h[b]):.3g}) "
            f"before t_end={t_end:g}; raise max_steps, loosen rtol/atol or use a stiff solver")
    return torch.stack(outs), Stats(nfe=nfe, n_accepted=n_acc, n_rejected=n_rej, error_sum=err_sum,
                                    stiffness_sum=stiff_sum)


def _write_outputs(tab, outs, grid, lo, hi, y_prev, K, h, t_start, first, stop, accept, y1, dtype):
    """Fill requested times ``grid[lo:hi]`` passed by this step, per sample."""
    theta = ((grid[lo:hi].unsqueeze(0) - t_start.unsqueeze(1)) / h.unsqueeze(1).clamp_min(1e-300)).to(dtype)
    values = dense_eval(tab, y_prev, K, h.to(dtype).unsqueeze(-1), theta)  # (J, batch, D)
    cols = torch.arange(lo, hi, device=grid.device)
    mask = accept.unsqueeze(1) & (cols >= first.unsqueeze(1)) & (cols < stop.unsqueeze(1))
    n_out = grid.shape[0]
    for jj, j in enumerate(range(lo, hi)):
        value = y1 if j == n_out - 1 else values[jj]  # the final time is reached exactly
        m = mask[:, jj].unsqueeze(-1)
        outs[j] = value if outs[j] is None else torch.where(m, value, outs[j])
