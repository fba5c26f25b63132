"""ProbConserv's one-parameter conservation laws (heat, porous medium, Stefan, advection,
inviscid Burgers ramp): closed forms, their masses b(t), residuals and finite volumes."""

import math

import h5py
import numpy as np
import pytest
import torch

from problems import PROBLEMS, Advection, BurgersRamp, Heat, PorousMedium, Stefan

DT = torch.float64
ALL = [Heat, PorousMedium, Stefan, Advection, BurgersRamp]


def fit_order(ns, errors):
    return float(-np.polyfit(np.log(ns), np.log(errors), 1)[0])


@pytest.mark.parametrize("cls", ALL)
def test_mass_closed_form_matches_quadrature_of_the_solution(cls):
    problem = cls()
    params = torch.tensor([problem.param_range[0], sum(problem.param_range) / 2, problem.param_range[1]], dtype=DT)
    a, b = problem.x_range
    x = torch.linspace(a, b, 400_001, dtype=DT)
    for frac in (0.05, 0.4, 0.9):
        t = torch.tensor(frac * problem.t_end, dtype=DT)
        u = problem.exact(params, t, x[None, :])[:, 0]
        quad = torch.trapezoid(u, x)
        # jumps (Stefan front, advection step, Burgers shock) cost O(h) in the trapezoid rule: h = 5e-6
        assert (quad - problem.mass(params, t)).abs().max() < 2e-5, (cls.name, frac)


def test_stefan_constants_solve_their_equation():
    u_star = torch.tensor([0.5, 0.6, 0.7], dtype=DT)
    z1, alpha, c1 = Stefan.constants(u_star)
    lhs = u_star * torch.erf(z1) * z1 * torch.exp(z1**2)
    assert (lhs - (1 - u_star) / math.sqrt(math.pi)).abs().max() < 1e-13
    assert torch.allclose(alpha, 2 * z1) and torch.allclose(c1 * torch.erf(z1), 1 - u_star)
    # the jump u* -> 0 moving at alpha / (2 sqrt t) carries exactly the flux -u_x at the front
    t = 0.05
    flux = c1 * torch.exp(-z1**2) / math.sqrt(math.pi * t)
    assert (u_star * alpha / (2 * math.sqrt(t)) - flux).abs().max() < 1e-13


def _smooth_points(problem, n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    a, b = problem.x_range
    return problem.t_end * (0.1 + 0.9 * torch.rand(n, generator=g, dtype=DT)), a + (b - a) * torch.rand(
        n, generator=g, dtype=DT)


def test_closed_forms_satisfy_the_equations_where_smooth():
    for problem, param, keep in [
        (Heat(), 2.5, lambda t, x: torch.ones_like(x, dtype=torch.bool)),
        (PorousMedium(), 3.0, lambda t, x: x < t - 0.02),
        (Stefan(), 0.6, lambda t, x: x < Stefan.constants(0.6)[1] * t.sqrt() - 0.01),
        (BurgersRamp(), 0.8, lambda t, x: (x > -1 + 0.8 * t + 0.01) & (x < -0.01)),
    ]:
        t, x = _smooth_points(problem, 256)
        mask = keep(t, x)
        r = problem.residual(lambda s, y: problem.exact(param, s, y)[0], param, t[mask], x[mask])
        assert mask.sum() > 20 and r.abs().max() < 1e-10, (problem.name, r.abs().max())
    # advection: any profile carried at speed a solves it; a wrong speed does not
    adv = Advection()
    t, x = _smooth_points(adv)
    assert adv.residual(lambda s, y: torch.sin(7 * (y - 2.0 * s)), 2.0, t, x).abs().max() < 1e-12
    assert adv.residual(lambda s, y: torch.sin(7 * (y - 1.5 * s)), 2.0, t, x).abs().max() > 1.0


def test_initial_and_boundary_conditions():
    x = torch.linspace(0, 1, 11, dtype=DT)
    assert torch.equal(PorousMedium().initial_condition(3.0, x), torch.zeros(1, 11, dtype=DT))
    left, right = PorousMedium().boundary_condition(torch.tensor([2.0]), torch.tensor(0.5, dtype=DT))
    assert abs(left.item() - 1.0) < 1e-15 and right.item() == 0
    assert torch.equal(Advection().initial_condition(2.0, x)[0], (x <= 0.5).to(DT))
    ramp = BurgersRamp().initial_condition(2.0, torch.tensor([-1.0, -0.5, 0.0, 0.5], dtype=DT))[0]
    assert ramp.tolist() == [2.0, 1.0, 0.0, 0.0]
    assert torch.allclose(Heat().initial_condition(1.0, x)[0], torch.sin(x))


def test_heat_finite_volumes_converge_at_second_order():
    problem = Heat()
    k = torch.tensor([[1.0], [4.0]], dtype=DT)
    errors = []
    for cells in (16, 32, 64):
        fv = problem.solve_fv(k, cells=cells, times=torch.linspace(0, 0.5, 3))[:, -1]
        x_edges = torch.arange(cells + 1, dtype=DT) * (2 * math.pi / cells)
        avg = (-torch.cos(x_edges[1:]) + torch.cos(x_edges[:-1])) / (2 * math.pi / cells)  # cell averages of sin
        errors.append((fv - torch.exp(-k * 0.5) * avg).abs().max().item())
    assert 1.9 < fit_order([16, 32, 64], errors) < 2.1, errors


def test_porous_medium_front_and_convergence():
    """m = 2 from t = 0.2 to 0.6 (started from the exact cell values): the front sits at
    x = t and the L1 error falls with the grid (degenerate front: ~first order)."""
    problem = PorousMedium()
    errors = []
    for cells in (20, 40, 80):
        fv = problem.solve_fv(torch.tensor([[2.0]]), cells=cells, times=torch.tensor([0.2, 0.35, 0.5]))[0, -1]
        x = (torch.arange(cells, dtype=DT) + 0.5) / cells
        errors.append((fv - problem.exact(2.0, 0.5, x)[0]).abs().mean().item())
        front = x[fv > 1e-3].max().item()
        assert abs(front - 0.5) <= 1.5 / cells, (cells, front)
    assert errors[-1] < 5e-3 and fit_order([20, 40, 80], errors) > 0.8, errors


def test_stefan_front_from_finite_volumes():
    """k = 1{u >= u*}: a cell conducts once it has filled to u*, so the jump advances at
    the Stefan speed; the front after t = 0.1 lies within two cells of alpha sqrt t."""
    problem = Stefan()
    u_star = torch.tensor([[0.55], [0.7]], dtype=DT)
    alpha = Stefan.constants(u_star)[1]
    for cells in (50, 100):
        fv = problem.solve_fv(u_star, cells=cells, times=torch.linspace(0.0, 0.1, 3))[:, -1]
        x = (torch.arange(cells, dtype=DT) + 0.5) / cells
        for i in range(2):
            front = x[fv[i] >= u_star[i, 0]].max().item()
            assert abs(front - alpha[i].item() * math.sqrt(0.1)) <= 2.0 / cells, (cells, front)
        exact = problem.exact(u_star, torch.tensor(0.1, dtype=DT), x[None])[:, 0]
        assert (fv - exact).abs().mean() < 0.02
    # mass enters only through x = 0: the FV mass follows b(t)
    cells = 100
    fv = problem.solve_fv(u_star, cells=cells, times=torch.linspace(0.0, 0.1, 5))
    assert (fv.sum(-1) / cells - problem.mass(u_star, torch.linspace(0.0, 0.1, 5))).abs().max() < 0.01


def test_advection_and_burgers_ramp_finite_volumes():
    adv = Advection()
    a = torch.tensor([[1.0], [0.4]], dtype=DT)  # the step leaves at t = 0.5 for a = 1; stays inside for 0.4
    errors = []
    for cells in (100, 200, 400):
        fv = adv.solve_fv(a, cells=cells, times=torch.tensor([0.0, 0.3]))[:, -1]
        x = (torch.arange(cells, dtype=DT) + 0.5) / cells
        errors.append((fv - adv.exact(a, torch.tensor(0.3, dtype=DT), x[None])[:, 0]).abs().mean().item())
    # MUSCL on a contact discontinuity: L1 error ~ dx^(2/3)
    assert 0.5 < fit_order([100, 200, 400], errors) < 0.9 and errors[-1] < 6e-3, errors  # measured 0.70, 5.0e-3
    ramp = BurgersRamp()
    a = torch.tensor([[2.0]], dtype=DT)
    cells = 400
    fv = ramp.solve_fv(a, cells=cells, times=torch.tensor([0.0, 0.5, 1.0]))[0, -1]
    x = -1 + 2 * (torch.arange(cells, dtype=DT) + 0.5) / cells
    shock = x[fv > 1.0].max().item()  # the jump from 2 to 0 crosses 1 at the shock
    assert abs(shock - 0.5) <= 2 * 2.0 / cells, shock  # x_s = (a t - 1) / 2
    mass = fv.sum() * 2.0 / cells
    assert abs(mass - ramp.mass(a, 1.0).item()) < 1e-2


def test_generate_and_cli_names(tmp_path):
    problem = Stefan(resolution=21, n_times=11)
    path = problem.generate(4, tmp_path / "stefan.h5", seed=0, chunk_size=3, progress=False)
    with h5py.File(path) as f:
        assert f["inputs"].shape == (4, 1) and f["outputs"].shape == (4, 11, 21)
        p = f["inputs"][:]
        assert ((p >= 0.55) & (p <= 0.7)).all()
        assert np.allclose(f["outputs"][:, -1], problem.exact(torch.from_numpy(p), 0.1, problem.x()[None])[:, 0])
    for name in ("heat", "porous_medium", "stefan", "advection", "burgers_ramp"):
        assert name in PROBLEMS


def test_bad_parameters():
    with pytest.raises(ValueError, match=r"u_star \(the threshold of k = 1\{u >= u\*\}\) must be finite and \(0.0, 1.0\)"):
        Stefan().solve(torch.tensor([[1.5]]))
    with pytest.raises(ValueError, match="m \\(the exponent of k = u\\^m\\) must be finite and > 0"):
        PorousMedium().solve(torch.tensor([[-1.0]]))
    with pytest.raises(ValueError, match="resolution"):
        Heat(resolution=2)
    with pytest.raises(ValueError, match="a \\(the advection speed, inflow on the left\\) must be finite and > 0"):
        Advection(param_range=(-1.0, 1.0))
