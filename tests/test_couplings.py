"""OT couplings and sample distances: permutation recovery, Sinkhorn against the exact
cost, plan checks, pair sampling, and W1/W2/energy distance against closed forms."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

from sciml.generative import (couple, energy_distance, ot_plan, sample_conditional, sample_pairs, squared_distances,
                              wasserstein)

DT = torch.float64


def _points(n=60, d=2, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=DT)


def test_exact_plan_recovers_a_shuffle_and_the_pairing_keeps_it():
    # x1 is a small perturbation of a permutation of x0: the OT pairing is that permutation
    x0 = _points(80)
    perm = torch.randperm(80, generator=torch.Generator().manual_seed(1))
    x1 = x0[perm] + 1e-3 * _points(80, seed=2)
    plan = ot_plan(squared_distances(x0, x1))
    inverse = torch.argsort(perm)
    assert torch.equal(plan.argmax(1), inverse)
    paired = couple(x0, x1, "exact")
    assert (paired - x0).abs().max() < 1e-2                     # every x0 meets its own image
    assert torch.equal(sample_conditional(plan), inverse)       # a permutation: no duplicates


def test_sinkhorn_marginals_and_its_cost_approaches_the_exact_one():
    x0, x1 = _points(100), _points(120, seed=3) + 1.0
    cost = squared_distances(x0, x1)
    cost = cost / cost.max()
    exact = float((ot_plan(cost) * cost).sum())
    excess = []
    for reg in (1.0, 0.1, 0.01, 1e-3):
        plan = ot_plan(cost, "sinkhorn", reg=reg, marginal_tol=1e-8)
        torch.testing.assert_close(plan.sum(1), torch.full((100,), 0.01, dtype=DT), atol=1e-8, rtol=0)
        torch.testing.assert_close(plan.sum(0), torch.full((120,), 1 / 120, dtype=DT), atol=1e-8, rtol=0)
        excess.append(float((plan * cost).sum()) / exact - 1)
    # the entropic plan's transport cost falls to the exact one as reg -> 0 (measured: 2.0,
    # 1.3, 0.19, 0.010 relative excess)
    assert all(a > b > 0 for a, b in zip(excess, excess[1:])) and excess[-1] < 0.015


def test_plan_checks_raise_instead_of_falling_back():
    cost = squared_distances(_points(50), _points(50, seed=4) * 10)
    with pytest.raises(RuntimeError, match="marginals"):
        ot_plan(cost, "sinkhorn", reg=1e-3, max_iterations=3)
    with pytest.raises(ValueError, match="NaN"):
        ot_plan(torch.full((3, 3), float("nan"), dtype=DT))
    with pytest.raises(ValueError, match="reg"):
        ot_plan(cost, "sinkhorn")
    with pytest.raises(ValueError, match="method"):
        ot_plan(cost, "greedy")
    with pytest.raises(ValueError, match="coupling"):
        couple(_points(), _points(), "hungarian")
    with pytest.raises(ValueError, match="marginal"):
        ot_plan(cost, a=torch.ones(50, dtype=DT))


def test_pairs_are_drawn_with_the_plan_frequencies():
    plan = torch.tensor([[0.1, 0.2, 0.0], [0.3, 0.0, 0.4]], dtype=DT)
    i, j = sample_pairs(plan, 200_000, torch.Generator().manual_seed(5))
    counts = torch.zeros(2, 3, dtype=DT).index_put_((i, j), torch.ones_like(i, dtype=DT), accumulate=True)
    expected = plan * 200_000
    chi2 = float(((counts - expected)[plan > 0] ** 2 / expected[plan > 0]).sum())
    assert chi2 < scipy.stats.chi2.ppf(0.999, 3) and counts[plan == 0].sum() == 0
    rows = torch.stack([sample_conditional(plan, torch.Generator().manual_seed(s)) for s in range(4000)])
    freq = (rows[:, 1] == 2).double().mean()      # row 1: column 2 with probability 0.4 / 0.7
    assert abs(float(freq) - 4 / 7) < 4 * math.sqrt(4 / 7 * 3 / 7 / 4000)


def test_distances_against_closed_forms():
    x = _points(200)
    shift = torch.tensor([3.0, -4.0], dtype=DT)
    # a translation is optimal for both costs: W1 = W2 = |shift|
    assert wasserstein(x, x + shift, p=2) == pytest.approx(5.0, rel=1e-9)
    assert wasserstein(x, x + shift, p=1) == pytest.approx(5.0, rel=1e-9)
    assert wasserstein(x, x) == pytest.approx(0.0, abs=1e-7)
    # 1-D: W1 is the L1 distance of the quantile functions; scipy's energy distance is the root
    a, b = _points(300, 1, seed=6), _points(250, 1, seed=7) * 2 + 0.5
    assert wasserstein(a, b, p=1) == pytest.approx(scipy.stats.wasserstein_distance(a[:, 0], b[:, 0]), rel=1e-9)
    assert energy_distance(a, b) == pytest.approx(scipy.stats.energy_distance(a[:, 0], b[:, 0]) ** 2, rel=1e-9)
    assert energy_distance(x, x) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="p must"):
        wasserstein(x, x, p=3)
    with pytest.raises(ValueError, match="samples"):
        energy_distance(x, x[:, :1])
    assert np.isfinite(wasserstein(x.float(), x.float() + 1))
