"""Differentiable solves and inverse problems: adjoint gradients against finite
differences, and a Darcy coefficient recovered from sparse data."""

import math

import pytest
import torch

from problems import Darcy, NavierStokes
from sciml.pde import SpectralGrid, gaussian_random_field, grf_from_noise, solve_elliptic
from sciml.sim import grid_observation, invert


@pytest.mark.parametrize("bc,n", [("dirichlet", 17), ("periodic", 16)])
def test_elliptic_adjoint_gradient_matches_finite_differences(bc, n):
    g = torch.Generator().manual_seed(0)
    a = (1 + 3 * torch.rand(2, n, n, generator=g, dtype=torch.float64)).requires_grad_()
    f = torch.rand(2, n, n, generator=g, dtype=torch.float64)
    if bc == "periodic":
        f = f - f.mean((-2, -1), keepdim=True)
    f.requires_grad_()
    w = torch.randn(2, n, n, generator=g, dtype=torch.float64)

    def loss(a, f):
        return (solve_elliptic(a, f, bc=bc, tol=1e-13) * w).sum()

    ga, gf = torch.autograd.grad(loss(a, f), (a, f))
    da, df = torch.randn(a.shape, generator=g, dtype=a.dtype), torch.randn(f.shape, generator=g, dtype=f.dtype)
    if bc == "periodic":
        df = df - df.mean((-2, -1), keepdim=True)
    eps = 1e-6
    with torch.no_grad():
        fd_a = (loss(a + eps * da, f) - loss(a - eps * da, f)) / (2 * eps)
        fd_f = (loss(a, f + eps * df) - loss(a, f - eps * df)) / (2 * eps)
    assert float((ga * da).sum()) == pytest.approx(float(fd_a), rel=1e-6)
    assert float((gf * df).sum()) == pytest.approx(float(fd_f), rel=1e-6)


def test_darcy_solve_is_differentiable_and_unchanged():
    problem = Darcy(resolution=20)
    a = problem.sample_inputs(2, generator=torch.Generator().manual_seed(1)).double().requires_grad_()
    u = problem.solve(a)
    assert float(problem.residual(a.detach(), u.detach()).abs().max()) < 1e-8  # still the solve it was
    (grad,) = torch.autograd.grad(u.sum(), a)
    # more permeability, less pressure: d(sum u)/da <= 0 everywhere (the adjoint is positive)
    assert float(grad.max()) <= 1e-14 and float(grad.min()) < 0


def test_solve_elliptic_errors():
    with pytest.raises(ValueError, match="same shape"):
        solve_elliptic(torch.ones(5, 5), torch.ones(4, 4))
    with pytest.raises(ValueError, match="inf or nan"):
        solve_elliptic(torch.full((5, 5), float("nan")), torch.ones(5, 5))
    with pytest.raises(RuntimeError, match="raise max_iter"):
        solve_elliptic(torch.ones(33, 33, dtype=torch.float64), torch.ones(33, 33, dtype=torch.float64),
                       max_iter=1, preconditioner=None)


@pytest.mark.parametrize("boundary", ["periodic", "neumann", "dirichlet"])
def test_grf_from_noise_is_the_sampler(boundary):
    shape = (12, 10)
    field = gaussian_random_field(3, shape, 2.0, 3.0, boundary=boundary, generator=torch.Generator().manual_seed(4),
                                  dtype=torch.float64, zero_mean=boundary != "dirichlet")
    modes = shape if boundary == "periodic" else tuple(n - 2 for n in shape) if boundary == "dirichlet" else shape
    noise = torch.randn((3, *modes), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    again = grf_from_noise(noise, shape, 2.0, 3.0, boundary=boundary, zero_mean=boundary != "dirichlet")
    assert torch.allclose(field, again, atol=1e-14)
    with pytest.raises(ValueError, match="noise must have shape"):
        grf_from_noise(noise[:, :3], shape, boundary=boundary)


def test_fourier_resample_is_exact_for_trigonometric_polynomials():
    def field(n, m):
        grid = SpectralGrid((n, m))
        x, y = grid.coordinates(torch.float64)
        return torch.sin(2 * math.pi * 3 * x) * torch.cos(2 * math.pi * 2 * y) + 0.3 * torch.cos(2 * math.pi * (5 * x - 4 * y))

    up = SpectralGrid((16, 12)).resample(field(16, 12), (40, 30))
    assert float((up - field(40, 30)).abs().max()) < 1e-13
    down = SpectralGrid((40, 30)).resample(field(40, 30), (16, 12))
    assert float((down - field(16, 12)).abs().max()) < 1e-13
    # below the kept modes, restriction drops the rest: a mode-7 wave vanishes on 12^2
    grid = SpectralGrid((32, 32))
    x, _ = grid.coordinates(torch.float64)
    assert float(grid.resample(torch.cos(2 * math.pi * 7 * x), (12, 12)).abs().max()) < 1e-14


def _darcy_transform(s):
    def transform(z):
        psi = grf_from_noise(z, (s, s), 2.0, 3.0, boundary="neumann", zero_mean=True)
        return 3.0 + 9.0 * torch.sigmoid(psi / 0.1)
    return transform


def test_inverse_darcy_recovers_the_coefficient():
    """32^2, u observed at every 2nd node (256 values, noise 1e-4 ~ 1% of max u), the data's
    GRF prior: L-BFGS through the adjoint solver gets the 3/12 coefficient to a relative
    L2 error below 0.25 (measured 0.19; the prior mean is at 0.5), fitting the data to the
    noise level."""
    torch.set_num_threads(1)
    s = 32
    problem = Darcy(resolution=s, tol=1e-8)
    g = torch.Generator().manual_seed(0)
    truth = problem.sample_inputs(1, generator=g).double()
    observe = grid_observation(2, 1)
    y = observe(problem.solve(truth))
    y = y + 1e-4 * torch.randn(y.shape, generator=g, dtype=y.dtype)
    result = invert(problem.solve, y, torch.zeros(1, s, s, dtype=torch.float64), observe=observe,
                    transform=_darcy_transform(s), noise_std=1e-4, truth=truth, steps=80, optimizer="lbfgs", lr=1.0)
    assert result.history["error"][0] > 0.45
    assert result.error < 0.25
    assert result.history["misfit"][-1] < 2.0 * y.numel()  # 0.5 chi^2 ~ n/2 at the noise level
    misclassified = float((torch.where(result.estimate >= 7.5, 12.0, 3.0) != truth).double().mean())
    assert misclassified < 0.08


def test_inverse_navier_stokes_initial_vorticity_through_the_solver():
    """Full observation of w(t = 0.5) on 16^2 (noise 0.01): backpropagation through 50
    solver steps brings the initial vorticity from error 1 (the prior mean) to below 0.2
    (measured 0.147, where the MAP estimate settles)."""
    problem = NavierStokes(resolution=16, t_end=0.5, n_times=2, dt=1e-2)
    stepper = problem.solver_stepper()
    prior = (problem.alpha, problem.tau, problem.tau ** (problem.alpha - 1))

    def transform(z):
        return grf_from_noise(z, (16, 16), *prior, zero_mean=True)

    def forward(w0):
        return stepper(w0.unsqueeze(1))[:, 0]

    g = torch.Generator().manual_seed(2)
    truth = transform(torch.randn(1, 16, 16, generator=g, dtype=torch.float64))
    with torch.no_grad():
        y = forward(truth) + 0.01 * torch.randn(1, 16, 16, generator=g, dtype=torch.float64)
    result = invert(forward, y, torch.zeros(1, 16, 16, dtype=torch.float64), transform=transform, noise_std=0.01,
                    truth=truth, steps=30, optimizer="lbfgs", lr=1.0)
    assert result.history["error"][0] == pytest.approx(1.0)
    assert result.error < 0.2


def test_invert_errors():
    with pytest.raises(ValueError, match="optimizer"):
        invert(lambda x: x, torch.zeros(1, 2), torch.zeros(1, 2), optimizer="sgd")
    with pytest.raises(ValueError, match="has shape"):
        invert(lambda x: x, torch.zeros(1, 3), torch.zeros(1, 2), steps=1)
    with pytest.raises(ValueError, match="stride"):
        grid_observation(0)
