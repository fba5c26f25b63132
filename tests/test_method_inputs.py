"""Bad inputs to the methods (interpolants, quadrature and conservation constraints,
fractional SDEs, problems, simulation) raise with the argument's name and a fix (issue
22); the periodic conservation constraint holds the exact solution to round-off."""

import math
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import problems
from sciml.conserve import ConservationConstraint, periodic_weights, shock_positions, trapezoid_weights
from sciml.conserve.probconserv import conservation_error
from sciml.generative import Interpolant
from sciml.nde import FractionalSDE
from sciml.nde.fractional_latent import ConstantDiffusion, LinearDrift
from sciml.sim import LearnedStepper, Simulation, parareal

NAN, INF = float("nan"), float("inf")
DT = torch.float64
x0, x1 = torch.randn(4, 2), torch.randn(4, 2)


def _fsde(**kw):
    return FractionalSDE(LinearDrift(1).double(), ConstantDiffusion(1).double(), sde_type="ito", **kw)


def _identity_stepper(dt=0.1):
    return LearnedStepper(torch.nn.Identity(), dt)


BAD = [
    (lambda: Interpolant().coefficients(torch.tensor([1.5])), ValueError, r"times must lie in \[0, 1\]"),
    (lambda: Interpolant().sample(torch.full((4,), -0.1), x0, x1), ValueError, r"times must lie in \[0, 1\]"),
    (lambda: Interpolant().sample(torch.full((4,), NAN), x0, x1), ValueError, r"times must lie in \[0, 1\]"),
    (lambda: Interpolant().velocity_target(torch.tensor(INF), x0, x1), ValueError, r"times must lie in \[0, 1\]"),
    (lambda: Interpolant().sample(torch.full((3,), 0.5), x0, x1), ValueError, r"one time per sample \(4,\)"),
    (lambda: Interpolant().sample(0.5, x0[:2], x1), ValueError, "x0 must have the shape of x1"),
    (lambda: Interpolant().sample(0.5, x0.long(), x1), TypeError, "x0 must be a floating-point tensor"),
    (lambda: trapezoid_weights(torch.tensor([0.0, NAN, 1.0])), ValueError, "NaN or Inf"),
    (lambda: trapezoid_weights(torch.tensor([0.0, 0.5, INF])), ValueError, "NaN or Inf"),
    (lambda: trapezoid_weights(torch.tensor([0.0])), ValueError, "at least 2 nodes"),
    (lambda: trapezoid_weights(torch.tensor([1.0, 0.0])), ValueError, "sorted"),
    (lambda: periodic_weights(torch.linspace(0, 1, 5), 1.0), ValueError, "less than one period"),
    (lambda: periodic_weights(torch.tensor([0.0, 0.5]), 0.0), ValueError, "period must be > 0"),
    (lambda: ConservationConstraint(lambda t: t, dims=1.0), ValueError, r"dims must be an int in \[1, 2\]"),
    (lambda: ConservationConstraint(lambda t: t, dims=True), ValueError, r"dims must be an int in \[1, 2\]"),
    (lambda: ConservationConstraint(3), TypeError, "mass must be callable"),
    (lambda: ConservationConstraint(lambda t: t, period=-1.0), ValueError, "period must be > 0"),
    (lambda: ConservationConstraint(lambda t: t, dims=2, period=(1.0,)), TypeError, "period must be None, a number"),
    (lambda: shock_positions(torch.zeros(3), torch.full((3, 3), NAN), torch.arange(3.0)), ValueError, "finite"),
    (lambda: shock_positions(torch.zeros(2), -1e3 * torch.eye(2), torch.arange(2.0)), ValueError,
     "not positive semi-definite"),
    (lambda: _fsde().sample(torch.zeros(2, 1, dtype=torch.long), torch.linspace(0, 1, 3, dtype=DT), 0.02,
                            posterior=False), TypeError, "x0 must be a floating-point tensor"),
    (lambda: _fsde().sample(torch.zeros(2, dtype=DT), torch.linspace(0, 1, 3, dtype=DT), 0.02, posterior=False),
     ValueError, r"x0 must have 2 dimensions \(batch, d\)"),
    (lambda: _fsde(kind="I").sample(torch.zeros(2, 1, dtype=DT), torch.linspace(0, 1, 3, dtype=DT), 0.1,
                                    posterior=False), ValueError, "kind='I' draws a stationary Y"),
    (lambda: FractionalSDE(LinearDrift(1), ConstantDiffusion(1), sde_type="x"), ValueError, "unknown sde_type"),
    (lambda: problems.Darcy(resolution=9).solve(3 * torch.ones(1, 9, 9, dtype=torch.long)), TypeError,
     "floating-point"),
    (lambda: problems.Darcy(resolution=9).solve(torch.ones(0, 9, 9)), ValueError, "at least one"),
    (lambda: problems.Darcy(resolution=9.0), TypeError, "resolution must be an int"),
    (lambda: problems.Burgers(resolution=16).solve(torch.ones(2, 16, dtype=torch.int32)), TypeError, "floating-point"),
    (lambda: problems.Burgers(resolution=16).solve(torch.ones(2, 17)), ValueError, r"shape \(\*, 16\)"),
    (lambda: problems.Burgers(resolution=16).solve(torch.full((1, 16), NAN)), ValueError, "NaN or Inf"),
    (lambda: problems.Convection(resolution=16).solve(torch.ones(2, 16, dtype=torch.long)), TypeError,
     "floating-point"),
    (lambda: problems.NavierStokes(resolution=8, solver_resolution=8).solve(torch.ones(1, 8, 8, dtype=torch.long)),
     ValueError, "floating-point"),
    (lambda: problems.Heat(param_range=(1.0, NAN)), ValueError, r"param_range\[1\] must be finite"),
    (lambda: problems.Heat(param_range=3.0), ValueError, "param_range must be a pair"),
    (lambda: problems.Heat().sample_inputs(2.0), TypeError, "n must be a positive int"),
    (lambda: problems.OUPopulation().solve(torch.ones(3, 2, dtype=torch.long)), TypeError, "floating-point"),
    (lambda: problems.OUPopulation().solve(torch.ones(3, 2), seed=1.5), TypeError, "seed must be a non-negative int"),
    (lambda: problems.OUPopulation().snapshots(0), ValueError, "n must be a positive int"),
    (lambda: parareal(object(), _identity_stepper(), torch.zeros(1, 1, 4), 2), TypeError,
     "coarse must be a stepper"),
    (lambda: parareal(_identity_stepper(), _identity_stepper(), torch.zeros(1, 1, 4), 2, tol=NAN), ValueError,
     "tol must be finite"),
    (lambda: Simulation(_identity_stepper()).run(torch.zeros(1, 1, 4), 2, t0=NAN), ValueError, "t0 must be finite"),
]


@pytest.mark.parametrize("call, error, fragment", BAD)
def test_bad_inputs_raise_clear_errors_quickly(call, error, fragment):
    start = time.perf_counter()
    with pytest.raises(error, match=fragment):
        call()
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("n", [16, 101])
def test_heat_exact_solution_satisfies_the_periodic_constraint_to_round_off(n):
    """Heat's grid x_i = 2 pi i / n omits its endpoint: the circle rule integrates
    exp(-k t) sin x to 0 exactly, where the bounded trapezoid rule misses the last cell."""
    heat = problems.Heat(resolution=n, n_times=5)
    k = torch.tensor([2.0], dtype=DT)
    x, t = heat.x(), heat.t()
    u = heat.solve(k)[0]  # (n_times, n)
    constraint = ConservationConstraint.for_problem(heat, k)
    assert constraint.period == (2 * math.pi,)
    assert float(constraint.error(u, t, x).abs().max()) < 1e-13
    assert float(conservation_error(u, x, constraint.rhs(t).squeeze(-1), period=2 * math.pi).abs().max()) < 1e-13
    bounded = ConservationConstraint(constraint.mass).error(u, t, x).abs().max()
    assert float(bounded) > 1e-6  # the bias this rule had


def test_bounded_grid_keeps_the_trapezoid_rule():
    problem = problems.PorousMedium(resolution=2001)
    m = torch.tensor([2.0], dtype=DT)
    constraint = ConservationConstraint.for_problem(problem, m)
    assert constraint.period == (None,)
    t = torch.linspace(0.1, 1.0, 4, dtype=DT)
    x = problem.x()
    u = problem.exact(m, t[:, None], x[None, :])[0]
    h = float(x[1] - x[0])
    assert float(constraint.error(u, t, x).abs().max()) < h * float(u.abs().max())


def test_fractional_sde_defaults_to_type_ii_and_type_i_is_seeded():
    assert _fsde().kind == "II"
    ts = torch.linspace(0, 1, 3, dtype=DT)
    model = _fsde(kind="I")
    a = model.sample(torch.zeros(4, 1, dtype=DT), ts, 0.02, posterior=False, seed=3)
    torch.manual_seed(0)
    b = model.sample(torch.zeros(4, 1, dtype=DT), ts, 0.02, posterior=False, seed=3)
    assert torch.equal(a.ys, b.ys) and not torch.equal(a.ys[0], torch.zeros_like(a.ys[0]))


@settings(max_examples=30, deadline=2000)
@given(st.integers(1, 40), st.floats(0.1, 10.0), st.floats(-5.0, 5.0), st.integers(0, 2**31 - 1))
def test_periodic_weights_sum_to_the_period_and_integrate_trig_polynomials(n, period, a, seed):
    g = torch.Generator().manual_seed(seed)
    uniform = a + period * torch.arange(n, dtype=DT) / n
    w = periodic_weights(uniform, period)
    assert abs(float(w.sum()) - period) < 1e-12 * period
    if n >= 3:
        f = torch.cos(2 * math.pi * uniform / period) + 0.5
        assert abs(float((w * f).sum()) - 0.5 * period) < 1e-11 * period
    jittered = torch.sort(a + period * torch.rand(n, generator=g, dtype=DT) * (1 - 1e-9)).values
    assert abs(float(periodic_weights(jittered, period).sum()) - period) < 1e-12 * period


PROBLEM_INPUT_CASES = [
    (lambda: problems.Heat(resolution=17, n_times=5).solve("inputs.h5"), TypeError, "inputs must be a tensor"),
    (lambda: problems.Advection(resolution=17, n_times=5).solve(torch.ones(1, 1, 1, dtype=DT)), ValueError,
     r"inputs must have shape \(n, 1\) or \(n,\)"),
    (lambda: problems.Stefan(resolution=17, n_times=5).solve_fv(torch.ones(2, 3, dtype=DT)), ValueError,
     r"inputs must have shape \(n, 1\)"),
    (lambda: problems.PorousMedium(resolution=17, n_times=5).solve(torch.ones(2, 1, dtype=torch.long)), TypeError,
     "inputs must be a floating-point tensor"),
    (lambda: problems.BurgersRamp(resolution=17, n_times=5).solve(torch.zeros(2, 1, dtype=DT)), ValueError,
     r"inputs: a \(the ramp height\) must be finite"),
    (lambda: problems.Stefan(param_range=(2.0, 1.0)), ValueError, "param_range must be increasing"),
    (lambda: problems.Stefan(param_range=(0.01, 0.5)), ValueError, r"param_range: u_star"),
    (lambda: problems.Darcy(resolution=9).solve("inputs.h5"), TypeError, "inputs must be a tensor"),
    (lambda: problems.Darcy(resolution=9).solve(torch.ones(1, 8, 8)), ValueError, r"inputs: expected .*\(n, 9, 9\)"),
    (lambda: problems.Darcy(high=1.0, low=3.0), ValueError, "high must be >= low"),
    (lambda: problems.NavierStokes(resolution=8, solver_resolution=8).solve("w0"), TypeError,
     "inputs must be a tensor"),
    (lambda: problems.NavierStokes(resolution=8, solver_resolution=8).solve(torch.ones(1, 4, 4)), ValueError,
     r"inputs: expected .*\(n, 8, 8\)"),
    (lambda: problems.NavierStokes(viscosity=-1e-3), ValueError, "viscosity must be >= 0"),
    (lambda: problems.Repressilator(hill=0.0), ValueError, "hill must be > 0"),
    (lambda: problems.Repressilator(beta=NAN), ValueError, "beta must be finite"),
    (lambda: problems.Repressilator(k="1"), TypeError, "k must be a real number"),
    (lambda: problems.Repressilator(decay=-1.0), ValueError, "decay must be > 0"),
    (lambda: problems.Repressilator(noise=-0.1), ValueError, "noise must be >= 0"),
    (lambda: problems.OUPopulation(initial_mean=(NAN, 0.0)), ValueError, "initial_mean must be a finite vector"),
]


@pytest.mark.parametrize("call, error, fragment", PROBLEM_INPUT_CASES)
def test_problem_arguments_and_inputs_are_checked_at_once(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
