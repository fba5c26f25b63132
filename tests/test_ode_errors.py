"""Bad input fails at the boundary with ValueError / TypeError naming what was given
and the fix; runtime failures raise MaxStepsError / StepSizeUnderflowError with
t= and h= in the message; nothing hangs."""

from __future__ import annotations

import re
import time

import pytest
import torch

from ode_problems import tensor
from sciml.solvers import (
    BacksolveAdjoint,
    IController,
    MaxStepsError,
    PIController,
    SolverError,
    StepSizeUnderflowError,
    odeint,
    solve_ode,
    step_error,
)

Y0 = tensor([1.0])
T = tensor([0.0, 1.0])


def decay(t, y):
    return -y


# Every case below must fail within this many seconds (they take milliseconds).
QUICK_S = 5.0


def raises_quickly(exc, match, fn):
    start = time.perf_counter()
    with pytest.raises(exc, match=match) as info:
        fn()
    assert time.perf_counter() - start < QUICK_S
    return info.value


BAD_INPUT = {
    "non-monotone t": (ValueError, r"strictly increasing.*t\[1\]=1\.0 and t\[2\]=0\.5",
                       lambda: solve_ode(decay, Y0, tensor([0.0, 1.0, 0.5]))),
    "repeated t": (ValueError, r"strictly increasing.*t\[1\]=1\.0 and t\[2\]=1\.0",
                   lambda: solve_ode(decay, Y0, tensor([0.0, 1.0, 1.0, 2.0]))),
    "2-D t": (ValueError, r"one-dimensional.*\(1, 2\)", lambda: solve_ode(decay, Y0, tensor([[0.0, 1.0]]))),
    "empty t": (ValueError, r"t is empty", lambda: solve_ode(decay, Y0, tensor([]))),
    "NaN in t": (ValueError, r"t contains NaN", lambda: solve_ode(decay, Y0, tensor([0.0, float("nan")]))),
    "t requires grad": (ValueError, r"t\.detach\(\)",
                        lambda: solve_ode(decay, Y0, tensor([0.0, 1.0]).requires_grad_())),
    "NaN in y0": (ValueError, r"y0 contains NaN or Inf", lambda: solve_ode(decay, tensor([float("nan")]), T)),
    "Inf in y0": (ValueError, r"y0 contains NaN or Inf", lambda: solve_ode(decay, tensor([1.0, float("inf")]), T)),
    "integer y0": (TypeError, r"floating point.*torch\.int64.*y0\.double\(\)",
                   lambda: solve_ode(decay, torch.tensor([1]), T)),
    "mixed-dtype tuple y0": (ValueError, r"one dtype",
                             lambda: solve_ode(lambda t, y: y, (Y0, Y0.float()), T)),
    "rtol = 0": (ValueError, r"rtol must be a finite number > 0, got 0", lambda: solve_ode(decay, Y0, T, rtol=0)),
    "rtol < 0": (ValueError, r"rtol must be .* > 0, got -0\.001", lambda: solve_ode(decay, Y0, T, rtol=-1e-3)),
    "rtol NaN": (ValueError, r"rtol must be a finite number", lambda: solve_ode(decay, Y0, T, rtol=float("nan"))),
    "atol = 0": (ValueError, r"atol must be a finite number > 0, got 0", lambda: solve_ode(decay, Y0, T, atol=0.0)),
    "atol < 0": (ValueError, r"atol must be .* > 0", lambda: solve_ode(decay, Y0, T, atol=-1.0)),
    "dt = 0": (ValueError, r"dt must be a finite number > 0, got 0",
               lambda: solve_ode(decay, Y0, T, method="rk4", dt=0.0)),
    "dt < 0": (ValueError, r"dt must be .* > 0, got -0\.1", lambda: solve_ode(decay, Y0, T, method="rk4", dt=-0.1)),
    "unknown method": (ValueError, r"unknown method 'rk45'; known: bosh3, dopri5, euler, heun, midpoint, rk4, ssprk3, tsit5",
                       lambda: solve_ode(decay, Y0, T, method="rk45")),
    "adaptive fixed-step method": (ValueError, r"'rk4' has no embedded error estimate.*bosh3, dopri5, tsit5",
                                   lambda: solve_ode(decay, Y0, T, method="rk4", adaptive=True)),
    "stiffness with bosh3": (ValueError, r"'bosh3' has no two stages at one abscissa.*stiffness=False",
                             lambda: solve_ode(decay, Y0, T, method="bosh3", stiffness=True)),
    "max_steps = 0": (ValueError, r"max_steps must be a positive int", lambda: solve_ode(decay, Y0, T, max_steps=0)),
    "func not callable": (TypeError, r"func must be callable", lambda: solve_ode(3, Y0, T)),
    "controller string": (TypeError, r"controller must be", lambda: solve_ode(decay, Y0, T, controller="pi")),
    "adjoint string": (TypeError, r"adjoint must be", lambda: solve_ode(decay, Y0, T, adjoint="yes")),
    "unknown adjoint method": (ValueError, r"unknown adjoint method 'foo'; known: bosh3",
                               lambda: solve_ode(torch.nn.Linear(1, 1), Y0, T, adjoint=BacksolveAdjoint(method="foo"))),
    "fixed-step adjoint method after adaptive forward": (
        ValueError, r"adjoint method 'rk4' is fixed-step but the forward solve is adaptive",
        lambda: solve_ode(torch.nn.Linear(1, 1), Y0, T, adjoint=BacksolveAdjoint(method="rk4"))),
    "adjoint params not tensors": (TypeError, r"params\[0\] must be a tensor",
                                   lambda: solve_ode(decay, Y0, T, adjoint=BacksolveAdjoint(params=[1.0]))),
    "unknown odeint option": (ValueError, r"unknown options \['foo'\]; known: dfactor, first_step",
                              lambda: odeint(decay, Y0, T, options={"foo": 1})),
    "odeint step_size with dopri5": (ValueError, r"step_size is for fixed-step methods.*first_step",
                                     lambda: odeint(decay, Y0, T, method="dopri5", options={"step_size": 0.1})),
    "odeint first_step with rk4": (ValueError, r"first_step is for adaptive methods.*step_size",
                                   lambda: odeint(decay, Y0, T, method="rk4", options={"first_step": 0.1})),
    "odeint unknown method": (ValueError, r"unknown method 'adams'; known:",
                              lambda: odeint(decay, Y0, T, method="adams")),
    "func returns wrong shape": (ValueError, r"func returned shape \(2,\) for state part 0, expected \(1,\)",
                                 lambda: solve_ode(lambda t, y: torch.zeros(2, dtype=y.dtype), Y0, T)),
    "func returns wrong shape (fixed)": (ValueError, r"func returned shape \(2,\).*expected \(1,\)",
                                         lambda: solve_ode(lambda t, y: torch.zeros(2, dtype=y.dtype), Y0, T,
                                                           method="rk4")),
    "func returns a tuple for a tensor state": (ValueError, r"func must return a tensor shaped like y0, got tuple",
                                                lambda: solve_ode(lambda t, y: (y,), Y0, T)),
    "func returns NaN at t0": (ValueError, r"NaN or Inf at the initial time t=0",
                               lambda: solve_ode(lambda t, y: y * float("nan"), Y0, T)),
    "func returns NaN at t0 (per sample)": (ValueError, r"NaN or Inf at the initial time t=0",
                                            lambda: solve_ode(lambda t, y: y * float("nan"), tensor([[1.0]]), T,
                                                              per_sample=True)),
    "per_sample tuple batch mismatch": (ValueError, r"leading batch dimension of one size.*\(3, 2\), \(2, 2\)",
                                        lambda: solve_ode(lambda t, y: (-y[0], -y[1]),
                                                          (torch.ones(3, 2, dtype=torch.float64),
                                                           torch.ones(2, 2, dtype=torch.float64)), T,
                                                          per_sample=True)),
    "per_sample scalar y0": (ValueError, r"leading batch dimension",
                             lambda: solve_ode(decay, tensor(1.0), T, per_sample=True)),
    "step_error with fixed method": (ValueError, r"'rk4' has no embedded error estimate",
                                     lambda: step_error(decay, 0.0, Y0, 0.1, "rk4")),
    "step_error h <= 0": (ValueError, r"h must be > 0, got -0\.1", lambda: step_error(decay, 0.0, Y0, -0.1)),
    "PIController safety": (ValueError, r"safety must lie in \(0, 1\]", lambda: PIController(safety=2.0)),
    "IController min_factor": (ValueError, r"min_factor must lie in \(0, 1\)", lambda: IController(min_factor=1.5)),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_rejected_with_a_helpful_message(case):
    exc, match, fn = BAD_INPUT[case]
    raises_quickly(exc, match, fn)


def test_func_returning_nan_at_t0_fixed_step():
    """The fixed-step loop, too, must refuse a vector field that is NaN at the initial
    time instead of returning NaN states (the adaptive loops raise this ValueError)."""
    raises_quickly(ValueError, r"NaN or Inf at the initial time t=0",
                   lambda: solve_ode(lambda t, y: y * float("nan"), Y0, T, method="rk4"))


# ------------------------------------------------------------- runtime errors


def _number_after(key: str, message: str) -> float:
    m = re.search(key + r"=([-+0-9.eE]+)", message)
    assert m, f"{key}= missing from: {message}"
    return float(m.group(1))


@pytest.mark.parametrize("per_sample", [False, True])
def test_max_steps_exceeded(per_sample):
    y0 = tensor([[1.0]]) if per_sample else Y0
    err = raises_quickly(MaxStepsError, r"max_steps=5",
                         lambda: solve_ode(decay, y0, tensor([0.0, 100.0]), max_steps=5, per_sample=per_sample))
    message = str(err)
    assert 0.0 < _number_after("t", message) < 100.0 and _number_after("h", message) > 0.0
    assert "raise max_steps" in message
    assert isinstance(err, SolverError)


@pytest.mark.parametrize("per_sample", [False, True])
def test_max_steps_is_the_number_of_attempts_allowed(per_sample):
    """A solve that needs N attempts (accepted + rejected) succeeds with max_steps = N
    and raises MaxStepsError with max_steps = N - 1, in both stepping modes."""
    y0 = tensor([[1.0]]) if per_sample else Y0
    t = tensor([0.0, 3.0])
    sol = solve_ode(decay, y0, t, rtol=1e-6, atol=1e-8, per_sample=per_sample)
    attempts = int(torch.as_tensor(sol.stats.n_accepted + sol.stats.n_rejected).sum())
    solve_ode(decay, y0, t, rtol=1e-6, atol=1e-8, per_sample=per_sample, max_steps=attempts)
    with pytest.raises(MaxStepsError):
        solve_ode(decay, y0, t, rtol=1e-6, atol=1e-8, per_sample=per_sample, max_steps=attempts - 1)


def test_fixed_grid_max_steps_fails_before_stepping():
    """A fixed grid of 10^6 steps with max_steps = 10 must raise MaxStepsError without
    taking the 10^6 steps (the grid is known up front); the field counts its calls and
    gives up after 1000 so that a regression fails fast instead of hanging."""
    calls = [0]

    class TooManyCalls(Exception):
        pass

    def counted(t, y):
        calls[0] += 1
        if calls[0] > 1000:
            raise TooManyCalls(f"func evaluated {calls[0]} times although max_steps=10")
        return -y

    raises_quickly(MaxStepsError, r"max_steps=10",
                   lambda: solve_ode(counted, Y0, T, method="euler", dt=1e-6, max_steps=10))


@pytest.mark.parametrize("method", ["tsit5", "dopri5", "bosh3"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_step_size_underflow_at_blow_up(method, per_sample):
    """y' = y^2, y(0) = 1 blows up at t = 1: StepSizeUnderflowError with t= within 1e-3
    of 1 and h= in the message."""
    y0 = tensor([[1.0]]) if per_sample else Y0
    err = raises_quickly(StepSizeUnderflowError, r"step size underflow",
                         lambda: solve_ode(lambda t, y: y**2, y0, tensor([0.0, 2.0]), method=method,
                                           per_sample=per_sample))
    message = str(err)
    assert abs(_number_after("t", message) - 1.0) <= 1e-3
    assert _number_after("h", message) < 1e-10


def test_nan_during_solve_is_reported_where_it_starts():
    """A field that turns NaN for t > 0.5 makes every step through 0.5 fail; the solve
    stops with a SolverError at t ~ 0.5 instead of looping."""
    def f(t, y):
        return y * torch.where(t > 0.5, torch.nan, 1.0)

    err = raises_quickly(SolverError, r"t=", lambda: solve_ode(f, Y0, T))
    assert abs(_number_after("t", str(err)) - 0.5) <= 1e-6
