"""Public SDE interface: ``solve_sde`` and the torchsde-compatible ``sdeint``.

An SDE is any object with ``f(t, y)``, ``g(t, y)``, ``noise_type`` (diagonal, scalar,
additive, general) and ``sde_type`` (ito, stratonovich), as in torchsde; ``y`` has
shape ``(batch, d)``; see ``_sde_methods.py`` for the shapes of ``g``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from ._checks import check_choice, check_positive, check_times
from ._errors import MaxStepsError, StepSizeUnderflowError
from ._sde_methods import METHODS

__all__ = ["SDESolution", "SDEStats", "sdeint", "solve_sde"]

NOISE_TYPES = ("diagonal", "scalar", "additive", "general")
SDE_TYPES = ("ito", "stratonovich")


@dataclass
class SDEStats:
    """Counters of one SDE solve.

    Attributes:
        nfe: evaluations of the pair ``(f, g)`` (Milstein's derivative of ``g`` and
            logqp's prior drift are not counted separately).
        n_steps: accepted steps.
        n_rejected: rejected steps (adaptive stepping only).
        error_sum: ``sum_j |h_j| E_j`` over accepted steps with ``E_j`` the
            step-doubling error estimate (adaptive stepping only); differentiable.
        nfe_backward: drift evaluations of the reversible adjoint's backward pass.
        step_ts: end times of the accepted steps.
    """

    nfe: int = 0
    n_steps: int = 0
    n_rejected: int = 0
    error_sum: torch.Tensor | None = None
    nfe_backward: int = 0
    step_ts: list[float] | None = field(default=None, repr=False)


@dataclass
class SDESolution:
    """Result of :func:`solve_sde`: ``ys`` of shape ``(T, batch, d)``, the log-ratio
    increments ``(T - 1, batch)`` when ``logqp=True``, and stats."""

    ts: torch.Tensor
    ys: torch.Tensor
    log_ratio: torch.Tensor | None
    stats: SDEStats


class _Counted:
    """The user's SDE with evaluation counting and a one-time shape check."""

    def __init__(self, sde, y0: torch.Tensor, m: int):
        self.sde, self.noise_type, self.sde_type = sde, sde.noise_type, sde.sde_type
        self.nfe = 0
        self._want_g = {"diagonal": y0.shape, "scalar": (*y0.shape, 1)}.get(sde.noise_type, (*y0.shape, m))
        self._checked = False

    def f(self, t, y):
        self.nfe += 1
        out = self.sde.f(t, y)
        if not self._checked and tuple(out.shape) != tuple(y.shape):
            raise ValueError(f"sde.f returned shape {tuple(out.shape)}, expected {tuple(y.shape)} (the shape of y)")
        return out

    def g(self, t, y):
        out = self.sde.g(t, y)
        if not self._checked:
            if tuple(out.shape) != tuple(self._want_g):
                raise ValueError(f"sde.g returned shape {tuple(out.shape)} for noise_type {self.noise_type!r}, "
                                 f"expected {tuple(self._want_g)}")
            self._checked = True
        return out

    def h(self, t, y):
        return self.sde.h(t, y)


def _noise_dim(sde, y0: torch.Tensor) -> int:
    if sde.noise_type == "diagonal":
        return y0.shape[1]
    if sde.noise_type == "scalar":
        return 1
    g = sde.g(torch.zeros((), dtype=y0.dtype, device=y0.device), y0)
    if g.dim() != 3:
        raise ValueError(f"for noise_type {sde.noise_type!r}, sde.g must return (batch, d, m), got {tuple(g.shape)}")
    return g.shape[2]


def _check_sde(sde, y0, method: str | None) -> str:
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
    if method is None:
        if sde.sde_type == "ito":
            method = "euler" if sde.noise_type == "general" else "srk"
        else:
            method = "midpoint"
    check_choice("method", method, METHODS)
    m = METHODS[method]
    if sde.sde_type not in m.sde_types:
        ok = sorted(n for n, c in METHODS.items() if sde.sde_type in c.sde_types and sde.noise_type in c.noise_types)
        raise ValueError(f"method {method!r} solves {'/'.join(m.sde_types)} SDEs, not {sde.sde_type}; "
                         f"for this SDE use one of {', '.join(ok)}")
    if sde.noise_type not in m.noise_types:
        ok = sorted(n for n, c in METHODS.items() if sde.sde_type in c.sde_types and sde.noise_type in c.noise_types)
        raise ValueError(f"method {method!r} does not support {sde.noise_type} noise; "
                         f"for this SDE use one of {', '.join(ok)}")
    return method


def _grid(times: list[float], dt: float) -> tuple[list[float], list[int]]:
    """Steps onto every output time: each interval is split into equal steps <= dt.
    Returns the grid and the grid index of each output time."""
    grid, where = [times[0]], [0]
    for a, b in zip(times[:-1], times[1:]):
        n = max(1, math.ceil((b - a) / dt - 1e-9))
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
        rtol, atol, dt_min: tolerances and smallest step of adaptive stepping.
        logqp: also return ``int 1/2 |(f - h) / g|^2 dt`` per output interval (diagonal
            noise; left-point rule on each step), the KL integrand of latent SDEs.
        adjoint: exact gradients in O(1) memory by the reversible Heun adjoint
            (method must be reversible_heun, fixed steps).
        seed: seed of the default Brownian path (default: drawn from torch's global
            generator, so ``torch.manual_seed`` makes solves reproducible).
        max_steps: limit on the number of steps.
    """
    method = _check_sde(sde, y0, method)
    times = check_times(ts)
    if len(times) > 1 and times[1] < times[0]:
        raise ValueError("ts must be strictly increasing for SDEs")
    dt = check_positive("dt", dt)
    scheme = METHODS[method]
    if logqp and (sde.noise_type != "diagonal" or not hasattr(sde, "h")):
        raise ValueError("logqp=True needs diagonal noise and a prior drift sde.h(t, y)")
    if logqp and adjoint:
        raise ValueError("logqp=True is not available with the reversible adjoint; use adjoint=False")
    if adjoint and (method != "reversible_heun" or adaptive):
        raise ValueError("adjoint=True is the reversible Heun adjoint: use method='reversible_heun' with fixed steps "
                         "(or adjoint=False to backpropagate through any solver)")
    m = _noise_dim(sde, y0)
    t0, t1 = times[0], times[-1]
    if bm is None:
        if seed is None:
            seed = int(torch.randint(0, 2**62, (), dtype=torch.int64))
        if adaptive:
            from ._brownian import BrownianPath

            bm = BrownianPath(t0, t1, (y0.shape[0], m), seed=seed, dtype=y0.dtype, device=y0.device,
                              levy_area=scheme.levy_area)
        else:
            bm = GridBrownian((y0.shape[0], m), seed, y0.dtype, y0.device)
    if scheme.levy_area and not hasattr(bm, "space_time_levy_area"):
        raise ValueError(f"method {method!r} needs the space-time Lévy area; pass a BrownianPath(levy_area=True) "
                         f"or use another method")
    counted = _Counted(sde, y0, m)
    ts_out = ts.detach() if isinstance(ts, torch.Tensor) else torch.tensor(times, dtype=y0.dtype)
    if len(times) == 1:
        return SDESolution(ts_out, y0.unsqueeze(0), None, SDEStats())
    if hasattr(sde, "check_step"):
        sde.check_step(dt)
    if adaptive:
        return _adaptive(counted, scheme, y0, times, ts_out, bm, dt, rtol, atol, dt_min, logqp, max_steps)
    grid, where = _grid(times, dt)
    if len(grid) - 1 > max_steps:
        raise MaxStepsError(f"the grid from t={t0:g} to t={t1:g} with dt={dt:g} needs {len(grid) - 1} steps, more "
                            f"than max_steps={max_steps}; raise max_steps or use a larger dt")
    if adjoint:
        from ._sde_adjoint import reversible_heun_adjoint

        return reversible_heun_adjoint(counted, y0, grid, where, ts_out, bm)
    ys, log_ratio = _fixed(counted, scheme, y0, grid, where, bm, logqp)
    return SDESolution(ts_out, ys, log_ratio, SDEStats(nfe=counted.nfe, n_steps=len(grid) - 1,
                                                           step_ts=grid[1:]))


class GridBrownian:
    """Exact Brownian increments on a fixed-step solver's own grid, drawn at once from
    a seeded generator: ``dW_n ~ N(0, h_n)`` and, independently, the space-time Lévy
    areas ``H_n ~ N(0, h_n / 12)``. The same seed and grid give the same increments
    (which is all the reversible adjoint needs); for queries at arbitrary times use
    :class:`BrownianPath`."""

    def __init__(self, shape: tuple[int, ...], seed: int, dtype: torch.dtype, device: torch.device):
        self.shape, self.seed, self.dtype, self.device = tuple(shape), seed, dtype, device

    def increments_with_levy_area(self, grid: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator(device=self.device).manual_seed(self.seed)
        h = torch.tensor(grid, dtype=torch.float64).diff().to(device=self.device, dtype=self.dtype)
        h = h.view(-1, *([1] * len(self.shape)))
        draws = torch.randn((2, h.shape[0], *self.shape), generator=gen, dtype=self.dtype, device=self.device)
        return draws[0] * h.sqrt(), draws[1] * (h / 12).sqrt()

    def increments(self, grid: list[float]) -> torch.Tensor:
        return self.increments_with_levy_area(grid)[0]

    def space_time_levy_area(self, ta, tb):
        raise ValueError("GridBrownian only serves whole fixed-step grids; pass a BrownianPath for other queries")


def brownian_increments(bm, grid: list[float], levy_area: bool, like: torch.Tensor):
    """Increments (and space-time Lévy areas) of ``bm`` on ``grid``: one vectorised
    call for a :class:`BrownianPath`, one call per step otherwise."""
    if hasattr(bm, "increments"):
        if levy_area:
            return bm.increments_with_levy_area(grid)
        return bm.increments(grid), None
    pairs = list(zip(grid[:-1], grid[1:]))
    dws = torch.stack([bm(a, b) for a, b in pairs]).to(like.dtype)
    if not levy_area:
        return dws, None
    return dws, torch.stack([bm.space_time_levy_area(a, b) for a, b in pairs]).to(like.dtype)


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


def _kl_rate(sde, t, y):
    """``1/2 |(f - h) / g|^2`` summed over the state (diagonal noise)."""
    u = (sde.sde.f(t, y) - sde.h(t, y)) / sde.sde.g(t, y)
    return 0.5 * (u * u).sum(dim=1)


def _adaptive(sde, scheme, y0, times, ts_out, bm, dt, rtol, atol, dt_min, logqp, max_steps):
    """Adaptive stepping with one step size for the batch. The error estimate is the
    method's embedded one where it has one (heun: Heun minus its Euler predictor),
    otherwise step doubling (one step of h against two of h/2, keeping the latter).
    A step is accepted iff the scaled RMS error ``E <= 1``; the next step is
    ``h * clip(0.9 E^(-1/q), 0.2, 10)`` with ``q = strong order + 1/2``."""
    if logqp:
        raise ValueError("logqp=True is available with fixed steps (adaptive=False)")
    dtype, device = y0.dtype, y0.device
    q = scheme.strong_order + 0.5
    t, h, y = times[0], dt, y0
    state = scheme.init_state(sde, torch.scalar_tensor(t, dtype=dtype, device=device), y0) \
        if hasattr(scheme, "init_state") else None
    ys, out, n_acc, n_rej, step_ts = [y0], 1, 0, 0, []
    err_sum = torch.zeros((), dtype=dtype, device=device)

    def increment(a, b):
        dw = bm(a, b)
        hh = bm.space_time_levy_area(a, b) if scheme.levy_area else None
        return dw, hh

    while out < len(times):
        if n_acc + n_rej >= max_steps:
            raise MaxStepsError(f"reached max_steps={max_steps} at t={t:.6g} (h={h:.3g}); raise max_steps or loosen "
                                f"rtol/atol")
        target = times[out]
        h = min(h, target - t)
        if h < dt_min and target - t > dt_min:
            raise StepSizeUnderflowError(f"adaptive step fell below dt_min={dt_min:g} at t={t:.6g} (h={h:.3g}); "
                                         f"loosen rtol/atol or lower dt_min")
        y_new, s_new, err_vec = _attempt(sde, scheme, t, h, y, state, increment, dtype, device)
        scale = torch.maximum(y.abs(), y_new.abs()).mul_(rtol).add_(atol)
        err = torch.linalg.vector_norm(err_vec / scale) / math.sqrt(y.numel())
        e = err.item()
        if e <= 1.0 or h <= dt_min:
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
        h = h * min(10.0, max(0.2, 0.9 * max(e, 1e-10) ** (-1.0 / q)))
    stats = SDEStats(nfe=sde.nfe, n_steps=n_acc, n_rejected=n_rej, error_sum=err_sum, step_ts=step_ts)
    return SDESolution(ts_out, torch.stack(ys), None, stats)


def _attempt(sde, scheme, t, h, y, state, increment, dtype, device):
    """One adaptive attempt: ``(y_new, state_new, error vector)``."""
    if hasattr(scheme, "step_with_error"):
        dw, area = increment(t, t + h)
        t0, dt = torch.scalar_tensor(t, dtype=dtype, device=device), torch.scalar_tensor(h, dtype=dtype, device=device)
        return scheme.step_with_error(sde, t0, dt, y, dw, area, state)
    tm = t + h / 2
    T = [torch.scalar_tensor(s, dtype=dtype, device=device) for s in (t, tm, t + h)]
    (dw1, h1), (dw2, h2) = increment(t, tm), increment(tm, t + h)
    full_area = None if h1 is None else _merge_levy(dw1, h1, dw2, h2, h / 2)
    y_full, _ = scheme.step(sde, T[0], T[2] - T[0], y, dw1 + dw2, full_area, state)
    y_half, s_half = scheme.step(sde, T[0], T[1] - T[0], y, dw1, h1, state)
    y_two, s_two = scheme.step(sde, T[1], T[2] - T[1], y_half, dw2, h2, s_half)
    return y_two, s_two, y_two - y_full


def _merge_levy(dw1, h1, dw2, h2, half):
    """Space-time Lévy area of ``[a, c]`` from its halves ``[a, b]`` and ``[b, c]`` of
    length ``half``. With ``A_ab = int_a^b (W_s - W_a) ds = (b - a)(H_ab + dW_ab / 2)``,
    ``A_ac = A_ab + A_bc + half dW_ab`` and ``H_ac = A_ac / (2 half) - dW_ac / 2``."""
    integral = half * (h1 + 0.5 * dw1) + half * (h2 + 0.5 * dw2) + half * dw1
    return integral / (2 * half) - 0.5 * (dw1 + dw2)


def sdeint(sde, y0, ts, bm=None, method=None, dt=1e-3, adaptive=False, rtol=1e-5, atol=1e-4, dt_min=1e-5,
           logqp=False):
    """Drop-in replacement for ``torchsde.sdeint``: returns ``ys`` of shape
    ``(T, batch, d)``, and ``(ys, log_ratio)`` with ``logqp=True``. Use
    :func:`solve_sde` for statistics, seeds and the reversible adjoint."""
    sol = solve_sde(sde, y0, ts, bm=bm, method=method, dt=dt, adaptive=adaptive, rtol=rtol, atol=atol,
                    dt_min=dt_min, logqp=logqp)
    return (sol.ys, sol.log_ratio) if logqp else sol.ys

