"""Schrödinger bridges: the static bridge against the Gaussian closed form, bridge
matching through the Trainer and the SDE core, and the multi-marginal bridge with
reference refinement on an OU population (the SBIRR brief's check 4, CI-sized)."""

import math

import pytest
import torch

from problems import OUPopulation
from sciml.generative import (AffineReference, MultiMarginalBridge, VelocityField, bridge_matching_loss,
                              bridge_plan, fit_pairs, sample_conditional, sample_diffusion, wasserstein)

DT = torch.float64


def _quantiles(n, std):
    u = (torch.arange(n, dtype=DT) + 0.5) / n
    return (std * math.sqrt(2) * torch.erfinv(2 * u - 1)).unsqueeze(1)


def test_static_bridge_matches_the_gaussian_closed_form():
    # N(0, a^2) -> N(0, b^2) under dX = sigma dW over dt: the Schrödinger coupling is Gaussian
    # with cross-covariance (sqrt(4 a^2 b^2 + s^4) - s^2) / 2, s^2 = sigma^2 dt
    # (Janati et al. 2020; Bunne et al. 2023, "The Schrödinger bridge between Gaussian measures")
    a, b = 1.0, 2.0
    x0, x1 = _quantiles(1000, a), _quantiles(1000, b)
    for sigma, dt in ((1.0, 1.0), (0.5, 2.0), (2.0, 0.5)):
        s2 = sigma ** 2 * dt
        plan = bridge_plan(AffineReference.brownian(1, sigma), x0, x1, dt)
        cross = float((plan * (x0 @ x1.T)).sum())
        expected = 0.5 * (math.sqrt(4 * a * a * b * b + s2 * s2) - s2)
        assert cross == pytest.approx(expected, rel=0.01)


def test_bridge_matching_transports_between_gaussians():
    torch.manual_seed(0)
    ref = AffineReference.brownian(2, sigma=1.0, dtype=torch.float32)
    m, scale = torch.tensor([3.0, -1.0]), torch.tensor([[0.6, 0.0], [0.3, 0.4]])

    def source(n, g):
        return torch.randn(n, 2, generator=g)

    def target(n, g):
        return m + torch.randn(n, 2, generator=g) @ scale.T

    def loss(model, x0, x1, g):
        x1 = x1[sample_conditional(bridge_plan(ref, x0, x1, 1.0), g)]   # minibatch Schrödinger coupling
        return bridge_matching_loss(model, ref, x0, x1, generator=g)

    model = VelocityField(2)
    fit_pairs(model, loss, source, target, steps=1000, batch_size=256, lr=2e-3)
    x0 = source(4000, torch.Generator().manual_seed(9))
    with torch.no_grad():
        out = sample_diffusion(model, x0, sigma=1.0, steps=200, seed=1)
    # measured: mean off by 0.066, covariance by 0.062 (sampling error of 4000 draws: ~0.01)
    assert (out.mean(0) - m).abs().max() < 0.1
    assert (torch.cov(out.T) - scale @ scale.T).abs().max() < 0.1


def test_multi_marginal_bridge_recovers_an_ou_drift_and_predicts_a_held_out_time():
    problem = OUPopulation()
    times, snaps = problem.snapshots(200, seed=0)
    truth = problem.reference.A
    bridge = MultiMarginalBridge(times, snaps, sigma=0.3, intercept=False)
    history = bridge.fit(iterations=3, tol=0.0)
    errors = [float((r["A"] - truth).norm() / truth.norm()) for r in history[1:]] + \
             [float((bridge.reference.A - truth).norm() / truth.norm())]
    # measured (seed 0): 0.29, 0.10, 0.066; the Brownian bridge's first refit is far off
    assert errors[0] > 0.2 and errors[-1] < 0.12 and errors[-1] < errors[0] / 2
    assert history[-1]["objective"] < history[0]["objective"]
    # held-out snapshot t = 3: the refined reference's marginal is closer than the Brownian one's
    keep = [k for k in range(7) if k != 3]
    held = MultiMarginalBridge(times[keep], [snaps[k] for k in keep], sigma=0.3, intercept=False)
    g = torch.Generator().manual_seed(1)
    brownian = wasserstein(held.sample_marginal(3.0, g), snaps[3])
    held.fit(iterations=3, tol=0.0)
    refined = wasserstein(held.sample_marginal(3.0, g), snaps[3])
    assert refined < 0.6 * brownian
    # the marginal at a snapshot time is that snapshot
    torch.testing.assert_close(bridge.sample_marginal(2.0), snaps[2])


def test_multi_marginal_input_errors():
    x = torch.randn(10, 2, dtype=DT)
    with pytest.raises(ValueError, match="one snapshot per time"):
        MultiMarginalBridge([0.0, 1.0], [x], 0.3)
    with pytest.raises(ValueError, match="increasing"):
        MultiMarginalBridge([1.0, 0.0], [x, x], 0.3)
    with pytest.raises(ValueError, match="snapshot 1"):
        MultiMarginalBridge([0.0, 1.0], [x, x[:, :1]], 0.3)
    with pytest.raises(ValueError, match="NaN"):
        MultiMarginalBridge([0.0, 1.0], [x, x * float("nan")], 0.3)
    with pytest.raises(ValueError, match="estimator"):
        MultiMarginalBridge([0.0, 1.0], [x, x], 0.3, estimator="ipf")
    with pytest.raises(ValueError, match="t must lie"):
        MultiMarginalBridge([0.0, 1.0], [x, x], 0.3).sample_marginal(2.0)
    with pytest.raises(ValueError, match="pair row by row"):
        bridge_matching_loss(lambda t, y: y, AffineReference.brownian(2), x, x[:5])
