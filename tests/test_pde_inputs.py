"""Bad inputs of sciml.pde (issue 22): each is rejected at once with a ValueError or
TypeError that names the argument; plus the inputs that are valid edge cases."""

from __future__ import annotations

import math

import pytest
import torch

from sciml.pde import (FiniteVolume1D, FiniteVolume2D, SolverStepper, SpectralGrid, burgers_flux, crank_nicolson_rk2,
                       crank_nicolson_rk3, gaussian_random_field, integrate, linear_advection_flux, multigrid_solve,
                       pcg, rollout, solve_elliptic)
from sciml.validation import ArgumentTypeError

F64 = torch.float64


def a(n=17):
    return torch.ones(1, n, n, dtype=F64)


def fv():
    return FiniteVolume1D(20, flux=linear_advection_flux(1.0))


def u1():
    return torch.ones(1, 20, dtype=F64)


def state():
    return torch.ones(1, 1, 8, dtype=F64)


LIN = -torch.arange(4, dtype=F64) ** 2

BAD = {
    "SpectralGrid shape float": (ArgumentTypeError, r"shape\[0\] must be an int, got 8\.5",
                                 lambda: SpectralGrid((8.5,))),
    "SpectralGrid shape string": (ArgumentTypeError, r"shape must be an int or a tuple",
                                  lambda: SpectralGrid("8")),
    "grf dtype int64": (ValueError, r"dtype must be a floating torch dtype",
                        lambda: gaussian_random_field(1, (8, 8), dtype=torch.int64)),
    "grf dtype not a dtype": (TypeError, r"dtype must be a floating torch dtype",
                              lambda: gaussian_random_field(1, (8, 8), dtype="float32")),
    "grf alpha string": (ArgumentTypeError, r"alpha must be a real number", lambda: gaussian_random_field(1, (8, 8),
                                                                                                   alpha="2")),
    "grf shape float": (ArgumentTypeError, r"shape\[0\] must be an int, got 8\.5",
                        lambda: gaussian_random_field(1, (8.5, 8))),
    "grf shape int": (TypeError, r"shape must be a tuple of 1 to 3 grid sizes", lambda: gaussian_random_field(1, 8)),
    "SpectralGrid length string": (ArgumentTypeError, r"length must be a real number",
                                   lambda: SpectralGrid((8,), length="a")),
    "multigrid f nan": (ValueError, r"right-hand side f contains NaN", lambda: multigrid_solve(a(), a() * math.nan)),
    "multigrid tol nan": (ValueError, r"tol must be finite", lambda: multigrid_solve(a(), a(), tol=math.nan)),
    "multigrid tol negative": (ValueError, r"tol must be >= 0", lambda: multigrid_solve(a(), a(), tol=-1.0)),
    "multigrid max_cycles 0": (ValueError, r"max_cycles must be a positive int, got 0",
                               lambda: multigrid_solve(a(), a(), max_cycles=0)),
    "multigrid max_cycles float": (ArgumentTypeError, r"max_cycles must be a positive int, got 2\.5",
                                   lambda: multigrid_solve(a(), a(), max_cycles=2.5)),
    "pcg max_iter 0": (ValueError, r"max_iter must be a positive int, got 0", lambda: pcg(a(), a(), max_iter=0)),
    "pcg tol negative": (ValueError, r"tol must be >= 0", lambda: pcg(a(), a(), tol=-1.0)),
    "pcg f nan": (ValueError, r"right-hand side f contains NaN", lambda: pcg(a(), a() * math.nan)),
    "solve_elliptic max_iter 0": (ValueError, r"max_iter must be a positive int, got 0",
                                  lambda: solve_elliptic(a(), a(), max_iter=0)),
    "solve_elliptic tol string": (ArgumentTypeError, r"tol must be a real number",
                                  lambda: solve_elliptic(a(), a(), tol="1e-8")),
    "FiniteVolume2D nx 0": (ValueError, r"nx must be an int >= 2, got 0",
                            lambda: FiniteVolume2D(0, 8, flux_x=burgers_flux())),
    "FiniteVolume2D ny float": (ArgumentTypeError, r"ny must be an int >= 2",
                                lambda: FiniteVolume2D(8, 8.5, flux_x=burgers_flux())),
    "FiniteVolume2D ly negative": (ValueError, r"ly must be > 0, got -1\.0",
                                   lambda: FiniteVolume2D(8, 8, ly=-1.0, flux_x=burgers_flux())),
    "FiniteVolume2D x0 nan": (ValueError, r"x0 must be finite",
                              lambda: FiniteVolume2D(8, 8, x0=math.nan, flux_x=burgers_flux())),
    "FiniteVolume2D flux_y string": (ArgumentTypeError, r"flux_y must be a ConvexFlux",
                                     lambda: FiniteVolume2D(8, 8, flux_y="burgers")),
    "integrate u0 nan": (ValueError, r"u0 contains NaN or Inf", lambda: integrate(fv(), u1() * math.nan, [0.0, 0.1])),
    "integrate scheme string": (ArgumentTypeError, r"scheme must be a FiniteVolume1D or FiniteVolume2D, got str",
                                lambda: integrate("fv", u1(), [0.0, 0.1])),
    "rollout step not callable": (ArgumentTypeError, r"step must be callable", lambda: rollout(3, state(), 2)),
    "rollout u0 list": (ArgumentTypeError, r"u0 must be a tensor", lambda: rollout(lambda x: x / 2, [1.0], 2)),
    "rollout step wrong shape": (ValueError, r"step must return a tensor of u0's shape \(1, 1, 8\); at step 1 it "
                                             r"returned shape \(1, 1, 3\)",
                                 lambda: rollout(lambda x: x[..., :3], state(), 2)),
    "rollout step returns None": (ValueError, r"step must return a tensor of u0's shape",
                                  lambda: rollout(lambda x: None, state(), 2)),
    "rollout step nan": (ValueError, r"NaN or Inf states", lambda: rollout(lambda x: x * math.nan, state(), 2)),
    "rollout accept not callable": (ArgumentTypeError, r"accept must be callable",
                                    lambda: rollout(lambda x: x, state(), 2, accept=True)),
    "cnrk2 linear string": (ArgumentTypeError, r"linear must be a tensor of the eigenvalues",
                            lambda: crank_nicolson_rk2("laplacian", lambda u: u, 0.1)),
    "cnrk3 state wrong shape": (ValueError, r"state's shape \(2, 5\) does not match linear",
                                lambda: crank_nicolson_rk3(LIN, lambda u: 0 * u, 0.1)(torch.ones(2, 5, dtype=F64))),
    "cnrk3 state not a tensor": (ArgumentTypeError, r"state u must be a tensor",
                                 lambda: crank_nicolson_rk3(LIN, lambda u: 0 * u, 0.1)([1.0, 2.0])),
    "SolverStepper make_step not callable": (ArgumentTypeError, r"make_step must be callable",
                                             lambda: SolverStepper(5, 0.1)),
    "SolverStepper decode not callable": (ArgumentTypeError, r"decode must be callable",
                                          lambda: SolverStepper(lambda like: (lambda x: x), 0.1, decode="fft")),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_rejected_with_its_cause(case):
    exc, match, fn = BAD[case]
    with pytest.raises(exc, match=match):
        fn()


def test_int_shape_is_a_1d_grid():
    assert SpectralGrid(8).shape == (8,)
    assert SpectralGrid(torch.Size([8, 4])).shape == (8, 4)


def test_valid_edge_cases_still_work():
    assert rollout(lambda x: x / 2, state(), 0).shape == (1, 1, 1, 8)
    ys = rollout(lambda x: x / 2, state(), 4, save_every=2)
    torch.testing.assert_close(ys[-1], state() / 16)
    # an accept test replaces the final finite check (the caller watches blow-up itself)
    ys = rollout(lambda x: x * math.nan, state(), 2, accept=lambda i, u: bool(torch.isfinite(u).all()))
    assert ys.shape == (1, 1, 1, 8)
    out = crank_nicolson_rk2(LIN, lambda u: 0 * u, 0.1)(torch.ones(3, 4, dtype=F64))
    assert out.shape == (3, 4)
    assert gaussian_random_field(1, (8,), dtype=F64).dtype == F64
