"""Stochastic interpolants: boundary conditions, derivatives, the Gaussian closed form of
the velocity, and the ODE/SDE samplers and likelihood with the exact velocity."""

import math

import pytest
import torch

from sciml.generative import (FAMILIES, GAMMAS, Interpolant, denoiser_loss, ode_log_likelihood, sample_ode,
                              sample_sde, velocity_loss)

DT = torch.float64


@pytest.mark.parametrize("family", FAMILIES)
def test_boundary_conditions(family):
    g = torch.Generator().manual_seed(0)
    x0, x1, z = (torch.randn(5, 3, generator=g, dtype=DT) for _ in range(3))
    it = Interpolant(family)
    start = x1 if family == "mirror" else x0
    torch.testing.assert_close(it.sample(torch.zeros(5, dtype=DT), x0, x1, z), start, atol=1e-12, rtol=0)
    torch.testing.assert_close(it.sample(torch.ones(5, dtype=DT), x0, x1, z), x1, atol=1e-12, rtol=0)
    gamma = it.coefficients(torch.tensor([0.0, 1.0], dtype=DT))[2]
    assert torch.all(gamma.abs() < 1e-12)
    if family == "encoder_decoder":
        torch.testing.assert_close(it.sample(torch.full((5,), 0.5, dtype=DT), x0, x1, z), z, atol=1e-12, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("gamma", [g for g in GAMMAS if g != "zero"])
def test_time_derivatives_match_finite_differences(family, gamma):
    it = Interpolant(family, gamma, a=2.0)
    t = torch.tensor([0.13, 0.37, 0.61, 0.88], dtype=DT)
    h = 1e-6
    up, down = it.coefficients(t + h), it.coefficients(t - h)
    exact = it.coefficients(t)
    for k in range(3):
        torch.testing.assert_close(exact[k + 3], (up[k] - down[k]) / (2 * h), atol=1e-6, rtol=1e-6)
    ends = torch.tensor([0.0, 1.0], dtype=DT)
    if family != "encoder_decoder":  # the squares are smooth through the ends
        torch.testing.assert_close(it.gamma_dgamma(t), 0.5 * (up[2] ** 2 - down[2] ** 2) / (2 * h), atol=1e-6,
                                   rtol=1e-6)
    assert torch.isfinite(it.gamma_dgamma(ends)).all()


def _gaussian_case():
    """N(0, I) -> N(m, Sigma), independent coupling, linear, gamma = sqrt(t (1 - t)):
    ``b(t, x) = beta' m + C V^-1 (x - beta m)`` with ``V = (alpha^2 + gamma^2) I + beta^2 Sigma``
    and ``C = (alpha alpha' + gamma gamma') I + beta beta' Sigma`` (the paper's App. A)."""
    m, sigma = torch.tensor([2.0, -1.0], dtype=DT), torch.tensor([[0.5, 0.2], [0.2, 0.3]], dtype=DT)
    it = Interpolant("linear", "sqrt")
    eye = torch.eye(2, dtype=DT)

    def parts(t):
        a, b, g, da, db, _ = (c.reshape(-1, 1, 1) for c in it.coefficients(t))
        V = (a * a + g * g) * eye + b * b * sigma
        C = (a * da + it.gamma_dgamma(t).reshape(-1, 1, 1)) * eye + b * db * sigma
        return b[..., 0], db[..., 0], V, C

    def velocity(t, x):
        b, db, V, C = parts(t)
        return db * m + (C @ torch.linalg.solve(V, (x - b * m).unsqueeze(-1))).squeeze(-1)

    def score(t, x):
        b, _, V, _ = parts(t)
        return -torch.linalg.solve(V, (x - b * m).unsqueeze(-1)).squeeze(-1)

    return it, m, sigma, velocity, score


def test_velocity_objective_is_minimised_by_the_closed_form():
    it, m, sigma, velocity, _ = _gaussian_case()
    g = torch.Generator().manual_seed(1)
    n = 200_000
    x0 = torch.randn(n, 2, generator=g, dtype=DT)
    x1 = m + torch.randn(n, 2, generator=g, dtype=DT) @ torch.linalg.cholesky(sigma).T
    z = torch.randn(n, 2, generator=g, dtype=DT)
    for t in (0.2, 0.5, 0.8):
        tt = torch.full((n,), t, dtype=DT)
        xt, target = it.sample(tt, x0, x1, z), it.velocity_target(tt, x0, x1, z)
        design = torch.cat([torch.ones(n, 1, dtype=DT), xt], 1)
        coef = torch.linalg.lstsq(design, target).solution  # the L2 projection: E[target | x_t] is affine here
        probe = torch.tensor([[0.3, -0.4], [1.0, 2.0]], dtype=DT)
        fitted = torch.cat([torch.ones(2, 1, dtype=DT), probe], 1) @ coef
        torch.testing.assert_close(fitted, velocity(torch.full((2,), t, dtype=DT), probe), atol=2e-2, rtol=0)
        best = velocity_loss(velocity, it, x0[:20000], x1[:20000], t=t, z=z[:20000])
        for shift in (0.05, -0.05):
            worse = velocity_loss(lambda s, x, c=shift: velocity(s, x) + c, it, x0[:20000], x1[:20000], t=t,
                                  z=z[:20000])
            assert worse > best


def test_samplers_with_the_exact_velocity_reproduce_the_target():
    it, m, sigma, velocity, score = _gaussian_case()
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(4000, 2, generator=g, dtype=DT)
    ode = sample_ode(velocity, x0, rtol=1e-7, atol=1e-7)
    sde = sample_sde(velocity, x0, eps=0.5, score=score, t0=0.0, t1=1.0, steps=400, seed=3)
    for out in (ode, sde):
        assert (out.mean(0) - m).abs().max() < 0.05
        assert (torch.cov(out.T) - sigma).abs().max() < 0.05
    # the denoiser route: s = -eta / gamma with eta = -gamma s
    eta = lambda t, x: -it.coefficients(t)[2].unsqueeze(-1) * score(t, x)  # noqa: E731
    via_eta = sample_sde(velocity, x0, eps=0.5, eta=eta, gamma=lambda t: it.coefficients(t)[2], steps=400, seed=3)
    assert (via_eta.mean(0) - m).abs().max() < 0.05
    with pytest.raises(ValueError, match="score"):
        sample_sde(velocity, x0, eps=0.5)


def test_ode_log_likelihood_matches_the_gaussian_density():
    it, m, sigma, velocity, _ = _gaussian_case()
    x1 = torch.tensor([[2.0, -1.0], [2.5, -0.5], [1.0, -1.5]], dtype=DT)
    target = torch.distributions.MultivariateNormal(m, sigma).log_prob(x1)

    def log_rho0(x):
        return -0.5 * x.square().sum(-1) - math.log(2 * math.pi)

    exact = ode_log_likelihood(velocity, x1, log_rho0, t0=0.0, t1=1.0, steps=200)
    torch.testing.assert_close(exact, target, atol=2e-3, rtol=0)
    copies = x1[:1].expand(4000, 2)  # one probe per row: 4000 independent Hutchinson estimates
    estimates = ode_log_likelihood(velocity, copies, log_rho0, hutchinson=True, steps=50, seed=1)
    standard_error = float(estimates.std() / math.sqrt(4000))
    assert abs(float(estimates.mean() - target[0])) < 4 * standard_error + 2e-3 and standard_error < 0.05


def test_denoiser_loss_targets_the_noise_and_bad_inputs():
    it = Interpolant("linear")
    g = torch.Generator().manual_seed(3)
    x0, x1, z = (torch.randn(64, 2, generator=g, dtype=DT) for _ in range(3))
    assert denoiser_loss(lambda t, x: z, it, x0, x1, t=0.4, z=z) == 0
    one = Interpolant("one_sided_linear")
    assert denoiser_loss(lambda t, x: x0, one, x0, x1, t=0.4) == 0
    with pytest.raises(ValueError, match="family"):
        Interpolant("cubic")
    with pytest.raises(ValueError, match="gamma"):
        Interpolant("linear", "cosine")
    with pytest.raises(ValueError, match="mirror"):
        Interpolant("mirror", "zero")


def test_backward_sde_takes_the_target_back_to_the_gaussian():
    it, m, sigma, velocity, score = _gaussian_case()
    g = torch.Generator().manual_seed(4)
    x1 = m + torch.randn(4000, 2, generator=g, dtype=DT) @ torch.linalg.cholesky(sigma).T
    out = sample_sde(velocity, x1, eps=0.5, score=score, t0=1.0, t1=0.0, steps=400, seed=5, direction="backward")
    assert out.mean(0).abs().max() < 0.05
    assert (torch.cov(out.T) - torch.eye(2, dtype=DT)).abs().max() < 0.06
    # a wrong sign of the score correction (b + eps s run backwards) misses the Gaussian
    wrong = sample_sde(lambda t, x: velocity(t, x) + score(t, x), x1, eps=0.5, score=score, t0=1.0, t1=0.0,
                       steps=400, seed=5, direction="backward")
    assert (torch.cov(wrong.T) - torch.eye(2, dtype=DT)).abs().max() > 0.2
    with pytest.raises(ValueError, match="down in time"):
        sample_sde(velocity, x1, score=score, t0=0.0, t1=1.0, direction="backward")
    with pytest.raises(ValueError, match="direction"):
        sample_sde(velocity, x1, score=score, direction="sideways")
