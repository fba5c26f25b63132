"""ProbConserv with a trained ANP (CI-sized): exact conservation of the constrained
prediction, a clearly non-conservative unconstrained one, comparable accuracy; the
predictive moments, SoftC and the shock-position estimate."""

import pytest
import torch

from problems import Heat, Stefan
from sciml.conserve import (AttentiveNP, ConservationConstraint, ContextTargetSet, conservation_error, exact_values,
                            log_likelihood, predict, shock_positions, softc_objective, train_anp)


@pytest.fixture(scope="module")
def heat_model():
    torch.manual_seed(0)
    model = AttentiveNP(hidden=32, latent=32, dropout=0.0)
    train_anp(model, ContextTargetSet(Heat(), 200, seed=0), epochs=8, batch_size=50, lr=1e-3, progress=False)
    return model.eval()


def _grid_truth(problem, param, t, x):
    pts = torch.stack(torch.meshgrid(t, x, indexing="ij"), -1).reshape(1, -1, 2)
    return exact_values(problem, torch.tensor([[param]]), pts)[0, :, 0].reshape(len(t), len(x))


def test_probconserv_conserves_exactly_with_comparable_error(heat_model):
    problem = Heat()
    x = torch.linspace(0, 2 * torch.pi, 201, dtype=torch.float64)
    t = torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    ce_anp, ce_pc, mse_anp, mse_pc = [], [], 0.0, 0.0
    for k in (1.5, 3.0, 4.5):
        constraint = ConservationConstraint(lambda tt, k=k: problem.mass(torch.tensor([k]), tt)[0])
        truth = _grid_truth(problem, k, t, x)
        test = ContextTargetSet(problem, 4, seed=3, params=torch.tensor([k]))
        for i in range(len(test)):
            item = test[i]
            anp = predict(heat_model, item["xc"], item["yc"], t, x, n_samples=20, seed=i)
            pc = predict(heat_model, item["xc"], item["yc"], t, x, mode="probconserv", constraint=constraint,
                         n_samples=20, seed=i)
            b = constraint.rhs(t)[:, 0]
            ce_anp.append(conservation_error(anp.mean, x, b).abs().max())
            ce_pc.append(conservation_error(pc.mean, x, b).abs().max())
            mse_anp += float((anp.mean - truth).square().mean())
            mse_pc += float((pc.mean - truth).square().mean())
    assert max(ce_pc) < 1e-10
    assert min(ce_anp) > 1e-4  # the unconstrained mean does not conserve mass
    assert mse_pc <= 1.05 * mse_anp, (mse_pc, mse_anp)


def test_moments_follow_the_law_of_total_variance(heat_model):
    item = ContextTargetSet(Heat(), 1, seed=5)[0]
    t = torch.tensor([0.5], dtype=torch.float64)
    x = torch.linspace(0, 6, 11, dtype=torch.float64)
    p = predict(heat_model, item["xc"], item["yc"], t, x, n_samples=8, seed=1, full_covariance=True)
    torch.manual_seed(1)
    grid = torch.stack(torch.meshgrid(t, x, indexing="ij"), -1).reshape(1, -1, 2).float()
    mu, sigma = heat_model.sample_predictions(item["xc"][None], item["yc"][None], grid, 8)
    mu, var = mu[:, 0, :, 0].double(), sigma[:, 0, :, 0].double() ** 2
    torch.testing.assert_close(p.mean[0], mu.mean(0))
    torch.testing.assert_close(p.var[0], var.mean(0) + mu.var(0, unbiased=False))
    torch.testing.assert_close(torch.diagonal(p.cov[0]), p.var[0])
    assert log_likelihood(p.mean[0], p.var[0], p.mean[0]) > log_likelihood(p.mean[0], p.var[0], p.mean[0] + 1)


def test_softc_objective_adds_the_residual_penalty():
    problem = Stefan()
    data = ContextTargetSet(problem, 4, seed=0)
    batch = {k: torch.stack([data[i][k] for i in range(4)]) for k in data[0]}
    torch.manual_seed(0)
    model = AttentiveNP(hidden=16, latent=16, dropout=0.0)
    loss, terms = softc_objective(problem, weight=2.0)(model, batch)
    assert set(terms) == {"nll", "kl", "residual"} and terms["residual"] > 0
    loss.backward()
    assert all(p.grad is not None for p in model.decoder.parameters())


def test_shock_positions_find_the_front():
    x = torch.linspace(0, 1, 201, dtype=torch.float64)
    mean = torch.where(x < 0.3, 1.0 - x, torch.zeros_like(x)) - 0.01
    cov = 1e-6 * torch.eye(201, dtype=torch.float64)
    pos = shock_positions(mean, cov, x, n_samples=100)
    assert (pos - 0.3).abs().max() <= 0.005 + 1e-12
