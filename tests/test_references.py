"""Affine reference diffusions: transitions against scipy, bridges against simulated
conditioning and the Brownian bridge, the pinned drift against autograd, and the
drift refits on exact paths and on exact bridge samples."""

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import torch

from sciml.generative import AffineReference, fit_affine_drift, fit_affine_from_plans

DT = torch.float64
A = torch.tensor([[-0.3, -1.0], [1.0, -0.3]], dtype=DT)
C = torch.tensor([0.4, -0.2], dtype=DT)


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def test_transition_matches_scipy_quadrature():
    ref = AffineReference(A, C, sigma=0.7)
    Phi, shift, Q = ref.transition(torch.tensor([0.3, 1.7], dtype=DT))
    for k, dt in enumerate((0.3, 1.7)):
        expm = lambda s: scipy.linalg.expm(A.numpy() * s)  # noqa: E731
        q = scipy.integrate.quad_vec(lambda s: 0.49 * expm(s) @ expm(s).T, 0, dt, epsabs=1e-13)[0]
        m = scipy.integrate.quad_vec(lambda s: expm(s) @ C.numpy(), 0, dt, epsabs=1e-13)[0]
        np.testing.assert_allclose(Phi[k].numpy(), expm(dt), atol=1e-12)
        np.testing.assert_allclose(Q[k].numpy(), q, atol=1e-10)
        np.testing.assert_allclose(shift[k].numpy(), m, atol=1e-10)
    _, _, Qb = AffineReference.brownian(2, sigma=0.5).transition(2.0)
    torch.testing.assert_close(Qb, 0.5 * torch.eye(2, dtype=DT))
    ou = AffineReference.ornstein_uhlenbeck(A, torch.tensor([1.0, 2.0], dtype=DT), 0.3)
    torch.testing.assert_close(ou.drift(torch.tensor([[1.0, 2.0]], dtype=DT)), torch.zeros(1, 2, dtype=DT))


def test_bridge_cost_is_the_negative_log_transition_density():
    ref = AffineReference(A, C, sigma=0.5)
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(5, 2, generator=g, dtype=DT), torch.randn(7, 2, generator=g, dtype=DT)
    Phi, shift, Q = ref.transition(0.8)
    density = torch.distributions.MultivariateNormal((x0 @ Phi.T + shift).unsqueeze(1), Q)
    log_p = density.log_prob(x1.unsqueeze(0))
    torch.testing.assert_close(ref.bridge_cost(x0, x1, 0.8), -log_p - 0.5 * ref.log_det_covariance(0.8),
                               atol=1e-10, rtol=0)


def test_brownian_bridge_moments():
    ref = AffineReference.brownian(2, sigma=0.6)
    xs, xu = torch.tensor([[0.0, 1.0]], dtype=DT), torch.tensor([[2.0, -1.0]], dtype=DT)
    mean, cov = ref.bridge_moments(1.5, xs, 1.0, xu, 3.0)
    torch.testing.assert_close(mean, xs + 0.25 * (xu - xs))
    torch.testing.assert_close(cov, 0.36 * 0.5 * 1.5 / 2.0 * torch.eye(2, dtype=DT))


def test_ou_bridge_equals_the_conditioning_of_simulated_paths():
    # independent route: simulate (X_t, X_u) from a fixed x_s exactly, regress X_t on X_u
    ref = AffineReference(A, C, sigma=0.5)
    g = torch.Generator().manual_seed(1)
    n = 200_000
    xs = torch.tensor([1.0, -0.5], dtype=DT).expand(n, 2)
    paths = ref.simulate(xs, torch.tensor([0.0, 0.4, 1.0], dtype=DT), g)
    xt, xu = paths[:, 1], paths[:, 2]
    design = torch.cat([torch.ones(n, 1, dtype=DT), xu], 1)
    coef = torch.linalg.lstsq(design, xt).solution
    residual = xt - design @ coef
    probe = torch.tensor([[0.2, 0.3], [1.5, -1.0]], dtype=DT)
    mean, cov = ref.bridge_moments(0.4, xs[:2], 0.0, probe, 1.0)   # scalar times: one covariance (2, 2)
    torch.testing.assert_close(mean, torch.cat([torch.ones(2, 1, dtype=DT), probe], 1) @ coef, atol=5e-3, rtol=0)
    torch.testing.assert_close(cov, torch.cov(residual.T), atol=2e-3, rtol=0)
    draws = ref.bridge_sample(0.4, xs[:50_000], 0.0, probe[:1].expand(50_000, 2), 1.0, g)
    torch.testing.assert_close(torch.cov(draws.T), cov, atol=2e-3, rtol=0)


def test_pinned_drift_is_drift_plus_sigma_squared_grad_log_density():
    ref = AffineReference(A, C, sigma=0.8)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 2, generator=g, dtype=DT).requires_grad_(True)
    xu = torch.randn(6, 2, generator=g, dtype=DT)
    t = torch.rand(6, generator=g, dtype=DT) * 0.9
    Phi, shift, Q = ref.transition(1.0 - t)
    log_p = torch.distributions.MultivariateNormal((Phi @ x.unsqueeze(-1)).squeeze(-1) + shift, Q).log_prob(xu)
    (grad,) = torch.autograd.grad(log_p.sum(), x)
    torch.testing.assert_close(ref.bridge_drift(t, x.detach(), xu, 1.0), ref.drift(x.detach()) + 0.64 * grad)


def test_euler_mle_recovers_the_drift_from_exact_paths():
    ref = AffineReference(A, C, sigma=0.3)
    g = torch.Generator().manual_seed(3)
    times = torch.linspace(0, 5, 501, dtype=DT)
    paths = ref.simulate(torch.randn(4000, 2, generator=g, dtype=DT), times, g)
    fitted = fit_affine_drift(paths, times, 0.3)
    # MLE error ~ sigma / sqrt(total time x paths x state spread): about 2e-3 here
    assert _rel(fitted.A, A) < 0.02 and (fitted.c - C).abs().max() < 0.02
    with pytest.raises(ValueError, match="increasing"):
        fit_affine_drift(paths, times.flip(0), 0.3)


def test_refit_recovers_the_drift_from_exact_bridge_samples():
    # knots of exact paths at t = 0..6, filled with the true reference's bridges: the
    # filled paths are exact paths, so the Euler MLE recovers A; the pair estimator too
    truth = AffineReference(A, sigma=0.3)
    g = torch.Generator().manual_seed(4)
    times = torch.arange(7, dtype=DT)
    x0 = torch.tensor([2.0, 0.0], dtype=DT) + 0.2 * torch.randn(2000, 2, generator=g, dtype=DT)
    knots = truth.simulate(x0, times, g)
    paths, fine = truth.fill(knots, times, 20, g)
    assert torch.equal(paths[:, ::20], knots) and fine.shape == (121,)
    assert _rel(fit_affine_drift(paths, fine, 0.3, intercept=False).A, A) < 0.05
    plans = [torch.eye(2000, dtype=DT) / 2000] * 6                 # the true pairing
    pairs = fit_affine_from_plans([knots[:, k] for k in range(7)], times, plans, 0.3, intercept=False)
    assert _rel(pairs.A, A) < 0.05
    # the same knots filled with Brownian bridges give a drift biased away from A
    brownian = AffineReference.brownian(2, 0.3).fill(knots, times, 20, g)[0]
    assert _rel(fit_affine_drift(brownian, fine, 0.3, intercept=False).A, A) > 0.1


def test_reference_input_errors():
    with pytest.raises(ValueError, match="square"):
        AffineReference(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="offset"):
        AffineReference(A, torch.zeros(3, dtype=DT))
    with pytest.raises(ValueError, match="sigma"):
        AffineReference(A, sigma=0.0)
    with pytest.raises(ValueError, match="dt"):
        AffineReference(A).bridge_cost(torch.zeros(2, 2, dtype=DT), torch.zeros(2, 2, dtype=DT), 0.0)
