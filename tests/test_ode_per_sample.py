"""Per-sample step-size control (specs/nde.md check 2): with ``per_sample=True`` a
sample's steps, counters and outputs do not depend on what else is in the batch;
with one shared step size an easy sample pays for a hard one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ode_problems import F64, tensor
from sciml.solvers import IController, PIController, initial_step_size, solve_ode

T_OUT = tensor([0.0, 0.35, 1.0, 1.6, 2.0])
TOL = dict(rtol=1e-6, atol=1e-8)
# bosh3 is 3rd order: at 1e-6 the w = 30 sample needs ~2700 steps; 1e-4 keeps it ~600.
METHOD_TOL = {"tsit5": TOL, "dopri5": TOL, "bosh3": dict(rtol=1e-4, atol=1e-6)}


def oscillators(freqs):
    """x'' = -w^2 x per sample: state (batch, 2) = (x, x'); exact x = cos(w t) from (1, 0).
    Checks that func receives one time per sample."""
    w2 = tensor(freqs) ** 2

    def f(t, y):
        assert t.shape == (y.shape[0],), t.shape
        return torch.stack([y[:, 1], -w2 * y[:, 0]], dim=-1)

    return f


def oscillators_shared(freqs):
    w2 = tensor(freqs) ** 2
    return lambda t, y: torch.stack([y[:, 1], -w2 * y[:, 0]], dim=-1)


def start(n):
    return tensor([[1.0, 0.0]] * n)


def solve_batch(freqs, method, controller=None, per_sample=True):
    f = oscillators(freqs) if per_sample else oscillators_shared(freqs)
    return solve_ode(f, start(len(freqs)), T_OUT, method=method, per_sample=per_sample, controller=controller,
                     **METHOD_TOL[method])


@pytest.mark.parametrize("controller", [PIController(), IController()], ids=["PI", "I"])
@pytest.mark.parametrize("method", ["tsit5", "dopri5", "bosh3"])
def test_batch_equals_samples_solved_alone(method, controller):
    """{easy (w = 1), hard (w = 30)}: identical per-sample NFE / accepted / rejected and
    outputs within 1e-10 (float64) of each sample solved alone; error_sum within
    1e-12 relative. The hard sample needs > 10x the easy one's NFE."""
    freqs = [1.0, 30.0]
    both = solve_batch(freqs, method, controller)
    assert both.stats.nfe.shape == (2,) and both.stats.n_accepted.shape == (2,)
    for b, w in enumerate(freqs):
        alone = solve_batch([w], method, controller)
        assert both.stats.nfe[b].item() == alone.stats.nfe[0].item()
        assert both.stats.n_accepted[b].item() == alone.stats.n_accepted[0].item()
        assert both.stats.n_rejected[b].item() == alone.stats.n_rejected[0].item()
        assert (both.ys[:, b] - alone.ys[:, 0]).abs().max().item() <= 1e-10
        assert both.stats.error_sum[b].item() == pytest.approx(alone.stats.error_sum[0].item(), rel=1e-12)
    assert both.stats.nfe[1] > 10 * both.stats.nfe[0]
    # and the outputs are right: cos(w t) to 100 rtol
    exact = torch.cos(T_OUT[:, None] * tensor(freqs))
    assert (both.ys[..., 0] - exact).abs().max().item() <= 100 * METHOD_TOL[method]["rtol"]


@pytest.mark.parametrize("method", ["tsit5", "dopri5", "bosh3"])
def test_shared_step_makes_easy_sample_pay(method):
    """With one step size for the batch (per_sample=False) the easy sample is stepped
    with the hard one's step sizes: the shared NFE exceeds the easy sample's NFE alone
    by > 5x (measured ~22x)."""
    shared = solve_batch([1.0, 30.0], method, per_sample=False)
    easy_alone = solve_batch([1.0], method, per_sample=False)
    assert isinstance(shared.stats.nfe, int)
    assert shared.stats.nfe > 5 * easy_alone.stats.nfe
    per_sample = solve_batch([1.0, 30.0], method)
    assert per_sample.stats.nfe[0].item() == easy_alone.stats.nfe  # per-sample easy cost = alone, shared norm


def test_per_sample_invariant_to_permutation_and_additions():
    """Permuting the batch permutes the results; appending samples leaves the
    existing ones unchanged (1e-10 on outputs, counters exact)."""
    freqs = [30.0, 1.0, 7.0]
    base = solve_batch(freqs, "tsit5")
    perm = [2, 0, 1]
    permuted = solve_batch([freqs[i] for i in perm], "tsit5")
    assert torch.equal(permuted.stats.nfe, base.stats.nfe[perm])
    assert torch.equal(permuted.stats.n_accepted, base.stats.n_accepted[perm])
    assert (permuted.ys - base.ys[:, perm]).abs().max().item() <= 1e-10

    grown = solve_batch(freqs + [0.5, 80.0, 3.0], "tsit5")
    assert torch.equal(grown.stats.nfe[:3], base.stats.nfe)
    assert torch.equal(grown.stats.n_rejected[:3], base.stats.n_rejected)
    assert (grown.ys[:, :3] - base.ys).abs().max().item() <= 1e-10
    assert grown.stats.nfe[4] > grown.stats.nfe[0]  # w = 80 is the new hardest


def test_per_sample_stiffness_sums_match_alone():
    """Rotations y' = w [[0, 1], [-1, 0]] y (a normal Jacobian, so Hairer's estimate
    |J d| / |d| is exactly |lambda| = w for every direction d): stiffness_sum per sample
    equals sum_j h_j w = 2 w (1e-9 relative) and equals the sample alone (1e-12)."""
    freqs = [1.0, 30.0]

    def rotations(ws):
        w = tensor(ws)
        return lambda t, y: torch.stack([w * y[:, 1], -w * y[:, 0]], dim=-1)

    both = solve_ode(rotations(freqs), start(2), T_OUT, method="tsit5", per_sample=True, stiffness=True, **TOL)
    for b, w in enumerate(freqs):
        alone = solve_ode(rotations([w]), start(1), T_OUT, method="tsit5", per_sample=True, stiffness=True, **TOL)
        assert both.stats.stiffness_sum[b].item() == pytest.approx(alone.stats.stiffness_sum[0].item(), rel=1e-12)
    np.testing.assert_allclose(both.stats.stiffness_sum.numpy(), np.array(freqs) * 2.0, rtol=1e-9)


def test_per_sample_fixed_step_counters():
    """Fixed steps with per_sample: counters are (batch,) tensors; rk4 with dt = 0.01
    on [0, 2] takes 200 steps, 4 NFE each (the last f(t_end) is not needed), and
    matches cos(w t) to 1e-6."""
    freqs = [1.0, 3.0]
    sol = solve_ode(oscillators(freqs), start(2), tensor([0.0, 1.0, 2.0]), method="rk4", dt=0.01, per_sample=True)
    assert sol.stats.n_accepted.tolist() == [200, 200]
    assert sol.stats.n_rejected.tolist() == [0, 0]
    assert sol.stats.nfe.tolist() == [800, 800]
    exact = torch.cos(tensor([0.0, 1.0, 2.0])[:, None] * tensor(freqs))
    assert (sol.ys[..., 0] - exact).abs().max().item() <= 1e-6


def test_per_sample_tuple_state():
    """A tuple state (x, v), each (batch, 1), behaves like the (batch, 2) tensor."""
    w2 = tensor([1.0, 900.0])[:, None]

    def f(t, state):
        x, v = state
        assert t.shape == (2,)
        return v, -w2 * x

    x0, v0 = tensor([[1.0], [1.0]]), tensor([[0.0], [0.0]])
    sol = solve_ode(f, (x0, v0), T_OUT, per_sample=True, **TOL)
    ref = solve_batch([1.0, 30.0], "tsit5")
    assert torch.equal(sol.stats.nfe, ref.stats.nfe)
    assert (torch.cat(sol.ys, dim=-1) - ref.ys).abs().max().item() <= 1e-10
    assert sol.ys[0].dtype == F64


def test_initial_step_size_per_sample_is_each_sample_alone():
    """One heuristic for both modes: per sample (t0 a tensor) each entry equals the shared
    step of that sample solved alone (t0 a float), and on y' = -y it is HNW's formula."""
    freqs = [0.5, 3.0, 30.0]
    f = oscillators(freqs)
    y0 = tensor([[1.0, 0.0], [1.0, 0.5], [2.0, -1.0]])
    with torch.no_grad():
        per = initial_step_size(f, torch.zeros(3, dtype=F64), y0, 5, 1e-6, 1e-8)
        for b, w in enumerate(freqs):
            alone = oscillators([w])
            shared = initial_step_size(lambda t, y: alone(t.expand(1), y), 0.0, y0[b:b + 1], 5, 1e-6, 1e-8)
            assert per[b].item() == pytest.approx(shared, rel=1e-14)
        # y' = -y from y0 = 1: d0 = d1 = 1/(atol + rtol), h0 = 0.01, d2 = d1, h = min(1, (0.01 / d1)^(1/q))
        h = initial_step_size(lambda t, y: -y, 0.0, tensor([1.0]), 5, 1e-6, 1e-8)
        assert h == pytest.approx((0.01 * (1e-8 + 1e-6)) ** 0.2, rel=1e-12)
