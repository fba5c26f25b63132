"""Lagrangian PINNs: exactness of the residuals on analytic pairs, the two diffusion forms,
the map back to the Eulerian grid, the n-width (SVD) facts, and the convection failure
mode: a CI-sized LPINN succeeds at beta = 30 where an Eulerian PINN of equal budget fails."""

import math

import torch

from problems import Convection
from sciml.pinn import (EulerianPINN, LagrangianPINN, fit, grid, relative_frobenius, relative_spectral,
                        snapshot_singular_values, uniform)

TWO_PI = 2 * math.pi


class _Exact(LagrangianPINN):
    """Closed-form 'network outputs': u = exp(-nu t) sin(xi), X = xi + c t + shear sin(xi)."""

    def __init__(self, c, nu=0.0, shear=0.0, **kw):
        super().__init__(speed=c, nu=nu, **kw)
        self.c, self.shear = c, shear

    def forward(self, coords):
        xi, t = coords[:, :1], coords[:, 1:]
        return torch.exp(-self.nu * t) * torch.sin(xi), xi + self.c * t + self.shear * torch.sin(xi)


def _points(n_xi=64, n_t=20):
    return grid([(0.0, TWO_PI), (0.0, 1.0)], (n_xi, n_t), endpoint=(False, True), dtype=torch.float64)


def test_residuals_vanish_on_the_exact_lagrangian_pair():
    for nu in (0.0, 0.05):
        model = _Exact(30.0, nu=nu)
        r = model.residuals(_points())
        assert r["x"].abs().max() < 1e-12 and r["u"].abs().max() < 1e-12
        xi = torch.linspace(0, TWO_PI, 50, dtype=torch.float64)
        r0 = model.initial_residuals(xi, torch.sin(xi))
        assert r0["x0"].abs().max() < 1e-12 and r0["u0"].abs().max() < 1e-12


def test_diffusion_forms_agree_on_a_shift_and_differ_on_a_shear():
    pts = _points()
    shift_label, shift_chain = (_Exact(1.0, nu=0.1, diffusion=d).residuals(pts)["u"] for d in ("label", "chain_rule"))
    assert (shift_label - shift_chain).abs().max() < 1e-6
    shear_label, shear_chain = (_Exact(1.0, nu=0.1, shear=0.3, diffusion=d).residuals(pts)["u"]
                                for d in ("label", "chain_rule"))
    assert (shear_label - shear_chain).abs().max() > 1e-2


def test_eulerian_map_reproduces_the_transported_sine():
    c = 30.0
    model = _Exact(c)
    x = torch.arange(256, dtype=torch.float64) * TWO_PI / 256
    t = torch.linspace(0, 1, 100, dtype=torch.float64)
    u = model.eulerian(x, t, x)
    exact = torch.sin(x[None] - c * t[:, None])
    assert (u - exact).abs().max() < 1e-3


def _pulse(beta, n=256, m=100, sigma=math.pi / 16):
    x = torch.arange(n, dtype=torch.float64) * TWO_PI / n
    t = torch.linspace(0, 1, m, dtype=torch.float64)
    d = torch.remainder(x[None] - beta * t[:, None] - math.pi, TWO_PI) - math.pi  # periodic distance to the centre
    return torch.exp(-d ** 2 / (2 * sigma ** 2))


def test_snapshot_singular_values():
    x = torch.arange(256, dtype=torch.float64) * TWO_PI / 256
    t = torch.linspace(0, 1, 100, dtype=torch.float64)
    for beta in (1.0, 10.0, 30.0, 50.0):
        s = snapshot_singular_values(torch.sin(x[None] - beta * t[:, None]).T)
        assert s[1] > 1e-3 and s[2] < 1e-10  # rank 2 whatever beta
    assert int((snapshot_singular_values(_pulse(1.0).T) > 1e-3).sum()) < 15
    for beta in (10.0, 30.0, 50.0):
        assert int((snapshot_singular_values(_pulse(beta).T) > 1e-3).sum()) > 30


def test_metrics_state_their_norm():
    ref = torch.sin(torch.linspace(0, 6, 40, dtype=torch.float64))[None].repeat(5, 1)
    assert abs(relative_frobenius(ref * 1.1, ref) - 0.1) < 1e-12
    assert abs(relative_spectral(ref * 1.1, ref, cut=2) - 0.1) < 1e-12


def _convection_reference(beta):
    problem = Convection(beta=beta, resolution=256, n_times=100)
    x = torch.arange(256, dtype=torch.float64) * TWO_PI / 256
    return problem, x, problem.times(), problem.solve(torch.sin(x)[None].double())[0]


def test_lpinn_succeeds_where_the_eulerian_pinn_fails_at_beta_30():
    """CI-sized version of the failure-mode experiment (equal Adam budgets)."""
    beta, steps = 30.0, 1500
    problem, x, t, ref = _convection_reference(beta)
    torch.manual_seed(0)
    lpinn = LagrangianPINN(speed=beta, width_u=32, depth_u=3, width_x=32, depth_x=2)
    terms, norm = lpinn.terms(torch.sin, preset="mse")
    points = {"interior": _points(64, 20).float(), "initial": torch.linspace(0, TWO_PI, 64)[:-1, None]}
    fit(lpinn, terms, points, adam_steps=steps, lr=1e-2, amsgrad=True, norm=norm)
    lpinn_error = relative_frobenius(lpinn.eulerian(x.float(), t.float(), x.float()), ref)

    torch.manual_seed(0)
    pinn = EulerianPINN(lambda u, ut, ux, uxx: problem.residual(ut, ux, uxx), width=32, depth=3)
    points = {"interior": uniform([(0.0, TWO_PI), (0.0, 1.0)], 1280, generator=0),
              "initial": torch.linspace(0, TWO_PI, 64)[:-1, None]}
    fit(pinn, pinn.terms(torch.sin, initial_weight=100.0), points, adam_steps=steps, lr=1e-2, amsgrad=True)
    pinn_error = relative_frobenius(pinn.predict(x.float(), t.float()), ref)
    assert lpinn_error < 5e-2, lpinn_error
    assert pinn_error > 0.5, pinn_error
