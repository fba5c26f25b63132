"""Test problems for the ODE core, each with an independent reference solution
(closed form or scipy's DOP853 at tight tolerance)."""

from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import numpy as np
import torch
from scipy.integrate import solve_ivp

F64 = torch.float64

# The torchdiffeq demo spiral y' = (y^3) A (specs/nde.md section 6, check 1).
SPIRAL_A = ((-0.1, 2.0), (-2.0, -0.1))


def tensor(x, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.as_tensor(x, dtype=dtype)


def spiral_np(t, y):
    return (y**3) @ np.array(SPIRAL_A)


def spiral_torch(dtype: torch.dtype = F64) -> Callable:
    a = tensor(SPIRAL_A, dtype)
    return lambda t, y: (y**3) @ a


class Problem(NamedTuple):
    """A non-stiff nonlinear test system ``y' = f(t, y)`` on ``[0, t_end]``."""

    f_np: Callable  # f(t, y) on numpy arrays, for scipy
    f_torch: Callable  # f(t, y) on a tensor of shape (D,)
    y0: tuple
    t_end: float


def _lotka_np(t, y):
    return np.array([1.5 * y[0] - y[0] * y[1], -3.0 * y[1] + y[0] * y[1]])


def _lotka_torch(t, y):
    return torch.stack([1.5 * y[0] - y[0] * y[1], -3.0 * y[1] + y[0] * y[1]])


def _vdp_np(t, y):  # Van der Pol, mu = 1
    return np.array([y[1], (1.0 - y[0] ** 2) * y[1] - y[0]])


def _vdp_torch(t, y):
    return torch.stack([y[1], (1.0 - y[0] ** 2) * y[1] - y[0]])


def _pendulum_np(t, y):
    return np.array([y[1], -np.sin(y[0])])


def _pendulum_torch(t, y):
    return torch.stack([y[1], -torch.sin(y[0])])


PROBLEMS = {
    "lotka_volterra": Problem(_lotka_np, _lotka_torch, (1.0, 1.0), 10.0),
    "van_der_pol": Problem(_vdp_np, _vdp_torch, (2.0, 0.0), 10.0),
    "spiral": Problem(spiral_np, spiral_torch(), (2.0, 0.0), 5.0),
    "pendulum": Problem(_pendulum_np, _pendulum_torch, (1.0, 0.0), 10.0),
}


def output_times(problem: Problem) -> np.ndarray:
    """Irregular output times that do not fall on a regular step grid."""
    return np.array([0.0, 0.13, 0.5, 1.7, 3.3, 4.4, 5.0]) * problem.t_end / 5.0


@functools.lru_cache(maxsize=None)
def _dop853(name: str, times: tuple, rtol: float, atol: float) -> np.ndarray:
    p = PROBLEMS[name]
    sol = solve_ivp(p.f_np, (times[0], times[-1]), p.y0, method="DOP853", rtol=rtol, atol=atol, t_eval=times)
    assert sol.success, sol.message
    return sol.y.T


def dop853_reference(name: str, times, rtol: float = 1e-12, atol: float = 1e-12) -> np.ndarray:
    """scipy DOP853 solution of ``PROBLEMS[name]`` at ``times``, shape ``(T, D)``."""
    return _dop853(name, tuple(float(s) for s in times), rtol, atol)


def fit_order(step_sizes, errors) -> float:
    """Least-squares slope of log(error) against log(step size)."""
    return float(np.polyfit(np.log(np.asarray(step_sizes)), np.log(np.asarray(errors)), 1)[0])
