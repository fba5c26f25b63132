"""Bad and edge-case inputs of the solver core (solve_ode, odeint, step_error,
solve_sde): each is answered with the documented error type and a message naming the
cause, within a few seconds; plus a small property test of solve_ode on y' = -y."""

from __future__ import annotations

import math
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sciml.solvers import (
    InstabilityError,
    MaxStepsError,
    SolverError,
    StepSizeUnderflowError,
    odeint,
    solve_ode,
    solve_sde,
    step_error,
)
from sciml.pde import crank_nicolson_rk2
from sciml.validation import ArgumentTypeError, check_tolerance

F64 = torch.float64
Y0 = torch.tensor([1.0], dtype=F64)
T = torch.tensor([0.0, 1.0], dtype=F64)
QUICK_S = 5.0


def decay(t, y):
    return -y


class OU:
    noise_type, sde_type = "diagonal", "ito"

    def f(self, t, y):
        return -y

    def g(self, t, y):
        return 0.5 * torch.ones_like(y)


class StiffOU(OU):
    def f(self, t, y):
        return -1e4 * y


class ModeratelyStiffOU(OU):
    def f(self, t, y):
        return -300.0 * y


class NaNDrift(OU):
    def f(self, t, y):
        return torch.log(y - 0.9)


class Float32Drift(OU):
    def f(self, t, y):
        return (-y).float()


YB = torch.ones(4, 1, dtype=F64)


def raises_quickly(exc, match, fn):
    start = time.perf_counter()
    with pytest.raises(exc, match=match) as info:
        fn()
    assert time.perf_counter() - start < QUICK_S, f"took {time.perf_counter() - start:.1f} s"
    return info.value


BAD = {
    # tolerances the dtype cannot meet
    "rtol 1e-20 in float64": (ValueError, r"rtol=1e-20 is below a tenth of the eps of torch.float64",
                              lambda: solve_ode(decay, Y0, T, rtol=1e-20, atol=1e-22)),
    "rtol 1e-10 in float32": (ValueError, r"rtol=1e-10 is below a tenth of the eps of torch.float32",
                              lambda: solve_ode(decay, Y0.float(), T, rtol=1e-10, atol=1e-12)),
    "default rtol in float16": (ValueError, r"rtol=1e-07 .*torch.float16.*eps=",
                                lambda: solve_ode(decay, Y0.half(), T)),
    "default rtol in bfloat16": (ValueError, r"rtol=1e-07 .*torch.bfloat16",
                                 lambda: solve_ode(decay, Y0.bfloat16(), T)),
    "atol underflows in float16": (ValueError, r"atol=1e-09 is below the smallest normal number of torch.float16",
                                   lambda: solve_ode(decay, Y0.half(), T, rtol=1e-2)),
    "odeint rtol 1e-20": (ValueError, r"rtol=1e-20 is below a tenth of the eps",
                          lambda: odeint(decay, Y0, T, rtol=1e-20)),
    "step_error rtol 1e-20": (ValueError, r"rtol=1e-20 is below a tenth of the eps",
                              lambda: step_error(decay, 0.0, Y0, 0.1, rtol=1e-20)),
    "sde rtol 1e-20": (ValueError, r"rtol=1e-20 is below a tenth of the eps",
                       lambda: solve_sde(OU(), YB, T, adaptive=True, rtol=1e-20, method="euler")),
    # stiff problems with explicit methods
    "stiff dopri5": (MaxStepsError, r"looks stiff at t=.*h=.*dopri5",
                     lambda: solve_ode(lambda t, y: -1e6 * y, Y0, torch.tensor([0.0, 10.0], dtype=F64),
                                       method="dopri5")),
    "stiff tsit5": (MaxStepsError, r"looks stiff at t=.*h=.*tsit5",
                    lambda: solve_ode(lambda t, y: -1e6 * y, Y0, torch.tensor([0.0, 10.0], dtype=F64))),
    "stiff tsit5 per sample": (MaxStepsError, r"looks stiff for sample 0 at t=.*h=",
                               lambda: solve_ode(lambda t, y: -1e6 * y, Y0.reshape(1, 1),
                                                 torch.tensor([0.0, 10.0], dtype=F64), per_sample=True)),
    "stiff bosh3 (no stiffness estimate)": (MaxStepsError, r"at t=.*h=.*needs about .* more steps",
                                            lambda: solve_ode(lambda t, y: -1e6 * y, Y0,
                                                              torch.tensor([0.0, 10.0], dtype=F64), method="bosh3")),
    "stiff bosh3 per sample (no stiffness estimate)": (
        MaxStepsError, r"sample 0 at t=.*h=.*needs about .* more steps",
        lambda: solve_ode(lambda t, y: -1e6 * y, Y0.reshape(1, 1), torch.tensor([0.0, 10.0], dtype=F64),
                          method="bosh3", per_sample=True)),
    # fixed steps that blow up
    "euler beyond its stability interval": (InstabilityError, r"t=.*h=0\.1.*euler.*2",
                                            lambda: solve_ode(lambda t, y: -1000 * y, Y0, T, method="euler",
                                                              dt=0.1)),
    "rk4 field turns NaN": (InstabilityError, r"non-finite.*t=",
                            lambda: solve_ode(lambda t, y: torch.log(y - 0.5), Y0, T, method="rk4", dt=0.1)),
    "sde euler stiff": (InstabilityError, r"t=.*dt=0\.01",
                        lambda: solve_sde(StiffOU(), YB, T, dt=0.01, method="euler")),
    "sde euler moderately stiff (growth below the overflow guard)": (
        InstabilityError, r"grew to max \|y\| = .*t=1 with dt=0\.01, where dt \|f\| / \|y\| = 3 ",
        lambda: solve_sde(ModeratelyStiffOU(), YB, T, dt=0.01, method="euler")),
    "sde NaN drift": (InstabilityError, r"non-finite",
                      lambda: solve_sde(NaNDrift(), YB, T, dt=0.01, method="euler")),
    # grids and loops beyond their bound
    "sde dt 1e-10": (MaxStepsError, r"needs 10000000000 steps, more than max_steps=1000000",
                     lambda: solve_sde(OU(), YB, T, dt=1e-10, method="euler")),
    "sde dt_min 0": (ValueError, r"dt_min must be a finite number > 0",
                     lambda: solve_sde(OU(), YB, T, adaptive=True, dt_min=0.0, method="euler")),
    "sde dt_min below time resolution": (ValueError, r"dt_min=1e-300 is below",
                                         lambda: solve_sde(OU(), YB, T, adaptive=True, dt_min=1e-300,
                                                           method="euler")),
    "sde adaptive step far too small for max_steps": (
        MaxStepsError, r"t=.*h=.*max_steps",
        lambda: solve_sde(OU(), YB, T, adaptive=True, dt_min=1e-14, rtol=1e-12, atol=1e-12, method="euler")),
    "imex NaN eigenvalue": (ValueError, r"linear \(the eigenvalues of L\) contains NaN",
                            lambda: crank_nicolson_rk2(torch.tensor([-1.0, float("nan")]), lambda u: 0 * u, 0.1)),
    "sde logqp string": (ArgumentTypeError, r"logqp must be True or False",
                         lambda: solve_sde(OU(), YB, T, logqp="yes")),
    # what func returns
    "func returns float32 for a float64 state": (TypeError, r"func returned a torch.float32 tensor.*y0 is torch.float64",
                                                 lambda: solve_ode(lambda t, y: (-y).float(), Y0, T)),
    "func returns float32 (fixed step)": (TypeError, r"torch.float32.*torch.float64",
                                          lambda: solve_ode(lambda t, y: (-y).float(), Y0, T, method="rk4")),
    "func returns float32 (per sample)": (TypeError, r"torch.float32.*torch.float64",
                                          lambda: solve_ode(lambda t, y: (-y).float(), Y0.reshape(1, 1), T,
                                                            per_sample=True)),
    "sde.f returns float32": (TypeError, r"sde.f returned a torch.float32 tensor",
                              lambda: solve_sde(Float32Drift(), YB, T, method="euler")),
    # flags that are not bools
    "per_sample string": (ArgumentTypeError, r"per_sample must be True or False",
                          lambda: solve_ode(decay, Y0.reshape(1, 1), T, per_sample="yes")),
    "adaptive string": (ArgumentTypeError, r"adaptive must be True, False or None",
                        lambda: solve_ode(decay, Y0, T, adaptive="no")),
    "stiffness string": (ArgumentTypeError, r"stiffness must be True or False",
                         lambda: solve_ode(decay, Y0, T, stiffness="no")),
    "sde adaptive string": (ArgumentTypeError, r"adaptive must be True or False",
                            lambda: solve_sde(OU(), YB, T, adaptive="no")),
    "sde seed float": (ArgumentTypeError, r"seed must be a non-negative int",
                       lambda: solve_sde(OU(), YB, T, seed=1.7)),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_answered_quickly_with_its_cause(case):
    exc, match, fn = BAD[case]
    raises_quickly(exc, match, fn)


def test_sde_growth_with_a_slow_drift_is_not_an_instability():
    """Geometric Brownian motion grows e^(mu t) legitimately: dt mu = 0.06 is far inside
    euler's stability interval, so a thousandfold growth is no error."""

    class GBM(OU):
        def f(self, t, y):
            return 6.0 * y

        def g(self, t, y):
            return 0.1 * y

    ys = solve_sde(GBM(), YB, torch.tensor([0.0, 2.0], dtype=F64), dt=0.01, method="euler").ys
    assert float(ys[-1].min()) > 1e3 * float(YB.max())


def test_runtime_errors_are_solver_errors():
    for case in ("stiff tsit5", "euler beyond its stability interval", "sde euler stiff"):
        assert issubclass(BAD[case][0], SolverError)
    assert issubclass(StepSizeUnderflowError, SolverError)


def test_check_tolerance_bounds():
    assert check_tolerance("rtol", 1.4e-8, torch.float32) == 1.4e-8
    assert check_tolerance("atol", 1e-300, torch.float64, absolute=True) == 1e-300
    with pytest.raises(ValueError, match=r"a tenth of the eps of torch.float32 \(1.19e-08"):
        check_tolerance("rtol", 1e-9, torch.float32)
    with pytest.raises(ValueError, match=r"rtol must be > 0"):
        check_tolerance("rtol", 0.0, torch.float64)


# ---------------------------------------------------------------- 0-d states


@pytest.mark.parametrize("method", ["tsit5", "rk4"])
def test_zero_dimensional_state(method):
    t = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    kw = {} if method == "tsit5" else {"dt": 1e-3}
    ys = solve_ode(decay, torch.tensor(2.0, dtype=F64), t, method=method, rtol=1e-10, atol=1e-12, **kw).ys
    assert ys.shape == (3,)
    torch.testing.assert_close(ys, 2.0 * torch.exp(-t), rtol=1e-8, atol=0)


def test_zero_dimensional_part_of_a_tuple_and_odeint():
    t = torch.tensor([0.0, 1.0], dtype=F64)
    a, b = solve_ode(lambda s, y: (-y[0], 2 * y[1]), (torch.tensor(1.0, dtype=F64), torch.ones(2, dtype=F64)), t,
                     rtol=1e-10, atol=1e-12).ys
    assert a.shape == (2,) and b.shape == (2, 2)
    torch.testing.assert_close(a[-1], torch.tensor(math.exp(-1.0), dtype=F64), rtol=1e-8, atol=0)
    torch.testing.assert_close(b[-1], torch.full((2,), math.exp(2.0), dtype=F64), rtol=1e-8, atol=0)
    ys = odeint(decay, torch.tensor(1.0, dtype=F64), t)
    torch.testing.assert_close(ys[-1], torch.tensor(math.exp(-1.0), dtype=F64), rtol=1e-6, atol=0)


# ------------------------------------------------------------- property test

TOL = {torch.float32: 1e-6, torch.float64: 1e-12}


@settings(max_examples=30, deadline=3000, suppress_health_check=[HealthCheck.too_slow])
@given(dtype=st.sampled_from([torch.float32, torch.float64]),
       log_rtol=st.floats(-18.0, -3.0), method=st.sampled_from(["tsit5", "dopri5"]),
       t_end=st.floats(0.1, 2.0), n_out=st.integers(2, 6), per_sample=st.booleans())
def test_decay_is_accurate_or_rejected(dtype, log_rtol, method, t_end, n_out, per_sample):
    """y' = -y: either ``exp(-t)`` to about the tolerance or the documented rejection of a
    tolerance the dtype cannot meet; always within a few seconds."""
    rtol = 10.0 ** log_rtol
    y0 = torch.ones(2, 1, dtype=dtype) if per_sample else torch.ones(2, dtype=dtype)
    t = torch.linspace(0.0, t_end, n_out, dtype=torch.float64)
    start = time.perf_counter()
    if rtol < torch.finfo(dtype).eps / 10:
        with pytest.raises(ValueError, match="below a tenth of the eps"):
            solve_ode(decay, y0, t, method=method, rtol=rtol, atol=rtol, per_sample=per_sample)
    else:
        ys = solve_ode(decay, y0, t, method=method, rtol=rtol, atol=rtol, per_sample=per_sample).ys
        exact = torch.exp(-t).to(dtype)
        err = (ys.reshape(n_out, -1) - exact.unsqueeze(-1)).abs().max().item()
        assert err <= 200 * max(rtol, TOL[dtype]) * max(1.0, t_end), (err, rtol)
    assert time.perf_counter() - start < QUICK_S


# ------------------------------------------- issue 22: the remaining solver inputs

def _ou_sde_inputs():
    from sciml.solvers import (BrownianPath, IController, PIController, initial_step_size, sample_exact_fbm,
                               sdeint)

    ts5 = torch.linspace(0.0, 1.0, 5, dtype=F64)
    yb = torch.ones(3, 2, dtype=F64)
    return {
        "odeint options not a dict": (ArgumentTypeError, r"options must be a dict",
                                      lambda: odeint(decay, Y0, T, options="fast")),
        "initial_step_size order 0": (ValueError, r"order must be > 0",
                                      lambda: initial_step_size(decay, 0.0, Y0, 0, 1e-6, 1e-8)),
        "initial_step_size rtol negative": (ValueError, r"rtol must be >= 0",
                                            lambda: initial_step_size(decay, 0.0, Y0, 4, -1.0, 1e-8)),
        "initial_step_size func": (ArgumentTypeError, r"func must be callable",
                                   lambda: initial_step_size(3, 0.0, Y0, 4, 1e-6, 1e-8)),
        "IController alpha nan": (ValueError, r"alpha must be finite", lambda: IController(alpha=math.nan)),
        "PIController beta string": (ArgumentTypeError, r"beta must be a real number",
                                     lambda: PIController(beta="0.2")),
        "PIController hold string": (ArgumentTypeError, r"hold_after_reject must be True or False",
                                     lambda: PIController(hold_after_reject="yes")),
        "sde ts not monotonic": (ValueError, r"ts must be monotone.*ts\[1\]=1\.0 and ts\[2\]=0\.5",
                                 lambda: solve_sde(OU(), yb, torch.tensor([0.0, 1.0, 0.5], dtype=F64))),
        "sde ts 2d": (ValueError, r"ts must be one-dimensional",
                      lambda: solve_sde(OU(), yb, ts5.reshape(1, -1))),
        "sdeint ts nan": (ValueError, r"ts contains NaN or Inf",
                          lambda: sdeint(OU(), yb, torch.tensor([0.0, math.nan], dtype=F64))),
        "sde bm wrong shape": (ValueError, r"bm has shape \(5, 7\) but this solve needs \(batch, noise dim\) = "
                                           r"\(3, 2\)",
                               lambda: solve_sde(OU(), yb, ts5, bm=BrownianPath(0.0, 1.0, (5, 7), dtype=F64))),
        "exact fbm ts not monotonic": (ValueError, r"ts must be strictly increasing",
                                       lambda: sample_exact_fbm(torch.tensor([0.5, 0.1, 1.0], dtype=F64), 4, 0.7)),
        "rtol string": (ArgumentTypeError, r"rtol must be a finite number > 0, got '1e-3' \(str\); pass it as a "
                                           r"number, e\.g\. rtol=0\.001",
                        lambda: solve_ode(decay, Y0, T, rtol="1e-3")),
        "rtol below float64 eps": (ValueError, r"float64 is already the widest dtype, so use rtol >= 2\.2e-17",
                                   lambda: solve_ode(decay, Y0, T, rtol=1e-20, atol=1e-22)),
        "rtol below float32 eps": (ValueError, r"solve in a wider dtype",
                                   lambda: solve_ode(decay, Y0.float(), T.float(), rtol=1e-12, atol=1e-14)),
    }


MORE_BAD = _ou_sde_inputs()


@pytest.mark.parametrize("case", sorted(MORE_BAD))
def test_more_bad_input_is_answered_quickly_with_its_cause(case):
    exc, match, fn = MORE_BAD[case]
    raises_quickly(exc, match, fn)
