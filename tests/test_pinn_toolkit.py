"""PINN toolkit: embeddings, hard constraints, derivatives (two routes against closed
forms), samplers, resampling and the Adam + L-BFGS fit."""

import math

import pytest
import torch

from sciml.pinn import (MLP, FourierFeatures, PeriodicEmbedding, PINNNet, ResidualResampler, derivatives, fit,
                        gradient, grid, initial_condition_transform, laplacian, latin_hypercube, partial, uniform)


def test_periodic_embedding_makes_the_network_exactly_periodic():
    torch.manual_seed(0)
    net = PINNNet(2, 1, width=16, depth=2, embedding=PeriodicEmbedding(2, {0: 2 * math.pi})).double()
    pts = torch.rand(50, 2, dtype=torch.float64)
    shifted = pts + torch.tensor([2 * math.pi, 0.0], dtype=torch.float64)
    torch.testing.assert_close(net(pts), net(shifted), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="periods"):
        PeriodicEmbedding(2, {3: 1.0})


def test_fourier_features_shape_and_fixed_matrix():
    ff = FourierFeatures(2, n_features=8, scale=3.0, seed=1)
    assert ff(torch.rand(5, 2)).shape == (5, 2 + 16)
    assert "B" in ff.state_dict() and not any(p.requires_grad for p in ff.parameters())


def test_hard_initial_condition_holds_exactly():
    torch.manual_seed(0)
    net = PINNNet(2, 1, 16, 2, output_transform=initial_condition_transform(torch.sin, t_column=1)).double()
    x = torch.linspace(0, 6, 20, dtype=torch.float64)[:, None]
    u = net(torch.cat([x, torch.zeros_like(x)], 1))
    torch.testing.assert_close(u, torch.sin(x), atol=1e-14, rtol=0)


def _field(c):
    x, t = c[:, :1], c[:, 1:]
    return torch.sin(2 * x) * torch.exp(-t) + x ** 2 * t


def test_autograd_derivatives_against_closed_forms():
    c = torch.rand(40, 2, dtype=torch.float64).requires_grad_(True)
    u = _field(c)
    x, t = c[:, :1].detach(), c[:, 1:].detach()
    torch.testing.assert_close(partial(u, c, 0), 2 * torch.cos(2 * x) * torch.exp(-t) + 2 * x * t)
    torch.testing.assert_close(partial(u, c, (0, 0)), -4 * torch.sin(2 * x) * torch.exp(-t) + 2 * t)
    torch.testing.assert_close(partial(u, c, (0, 1)), -2 * torch.cos(2 * x) * torch.exp(-t) + 2 * x)
    torch.testing.assert_close(laplacian(u, c), -4 * torch.sin(2 * x) * torch.exp(-t) + 2 * t
                               + torch.sin(2 * x) * torch.exp(-t))
    with pytest.raises(ValueError, match="requires_grad"):
        gradient(u, torch.rand(40, 2))


def test_torch_func_route_matches_autograd_and_trains():
    torch.manual_seed(0)
    net = MLP(2, 1, 16, 2).double()
    c = torch.rand(30, 2, dtype=torch.float64)
    u, jac, hess = derivatives(net, c)
    cg = c.clone().requires_grad_(True)
    ug = net(cg)
    torch.testing.assert_close(jac[:, 0, :], gradient(ug, cg))
    torch.testing.assert_close(hess[:, 0, 0, 1:2], partial(ug, cg, (0, 1)))
    torch.testing.assert_close(hess[:, 0, 1, 1:2].squeeze(-1), partial(ug, cg, (1, 1)).squeeze(-1))
    (hess.sum() + u.sum()).backward()  # the output bias does not reach the Hessian
    assert all(p.grad is not None for p in net.parameters())


def test_samplers():
    b = [(0.0, 2.0), (-1.0, 1.0)]
    g = grid(b, (5, 3), endpoint=(False, True))
    assert g.shape == (15, 2) and float(g[:, 0].max()) == pytest.approx(1.6) and float(g[:, 1].max()) == 1.0
    u = uniform(b, 1000, generator=1)
    assert u.shape == (1000, 2) and (u[:, 0] >= 0).all() and (u[:, 0] <= 2).all()
    torch.testing.assert_close(u, uniform(b, 1000, generator=1))
    lhs = latin_hypercube(b, 10, generator=0)
    strata = torch.floor(lhs[:, 0] / 0.2).long().sort().values
    assert torch.equal(strata, torch.arange(10))  # one point per stratum
    with pytest.raises(ValueError, match="bounds"):
        uniform([(1.0, 0.0)], 3)


def test_residual_resampler_concentrates_where_the_residual_is_large():
    def residual(p):  # large near x = 0.9
        return torch.exp(-((p[:, :1] - 0.9) / 0.05) ** 2) * 100

    rad = ResidualResampler([(0.0, 1.0), (0.0, 1.0)], n=500, pool=5000, k=1.0, c=0.0, generator=0)
    pts = rad(residual, torch.zeros(500, 2))
    assert pts.shape == (500, 2) and float((pts[:, 0] > 0.75).float().mean()) > 0.9
    rar = ResidualResampler([(0.0, 1.0), (0.0, 1.0)], n=10, pool=1000, mode="add", generator=0)
    more = rar(residual, torch.zeros(5, 2))
    assert more.shape == (15, 2) and (more[5:, 0] > 0.8).all()


def test_fit_adam_then_lbfgs_solves_a_poisson_problem(tmp_path):
    """-u'' = pi^2 sin(pi x) on (0, 1), u(0) = u(1) = 0 by a hard transform: the PINN
    reaches the exact sin(pi x) and L-BFGS says why it stopped."""
    torch.manual_seed(0)
    net = PINNNet(1, 1, 20, 2, output_transform=lambda c, raw: c * (1 - c) * raw).double()

    def pde(model, points):
        x = points["interior"].detach().requires_grad_(True)
        return partial(model(x), x, (0, 0)) + math.pi ** 2 * torch.sin(math.pi * x)

    points = {"interior": grid([(0.0, 1.0)], (64,), dtype=torch.float64)}
    result = fit(net, {"pde": (1.0, pde)}, points, adam_steps=200, lr=1e-2, lbfgs_steps=300,
                 checkpoint_dir=tmp_path)
    x = torch.linspace(0, 1, 101, dtype=torch.float64)[:, None]
    error = (net(x) - torch.sin(math.pi * x)).abs().max()
    assert error < 1e-4
    assert result.adam_steps == 200 and 0 < result.lbfgs_iterations <= 300
    assert result.stop_reason in ("max_iter", "tolerance_grad", "tolerance_change", "no_descent")
    assert "train/pde" in result.final and (tmp_path / "lbfgs" / "latest.pt").is_file()
    assert result.history[0]["train/pde"] > 100 * result.final["train/pde"]
