"""Training interpolants through the Trainer: a CI-sized 2-D run reaches a stated W2,
and an interrupted run resumes to the same weights; the 2-D toys and populations."""

import pytest
import torch

from problems import OUPopulation, Repressilator
from problems.toy2d import checkerboard, eight_gaussians, moons
from sciml.generative import Interpolant, VelocityField, couple, fit_pairs, sample_ode, velocity_loss, wasserstein

IT = Interpolant("linear", "zero")


def _ot_loss(model, x0, x1, g):
    return velocity_loss(model, IT, x0, couple(x0, x1, "exact", generator=g), generator=g)


def test_ot_coupled_flow_reaches_a_stated_w2_on_eight_gaussians_to_moons():
    torch.manual_seed(0)
    model = VelocityField(2)
    fit_pairs(model, _ot_loss, eight_gaussians, moons, steps=1000, batch_size=256, lr=1e-3)
    g = torch.Generator().manual_seed(7)
    x0, test = eight_gaussians(1000, g), moons(1000, g)
    with torch.no_grad():
        w2 = wasserstein(sample_ode(model, x0, steps=50, method="heun"), test)
    floor = wasserstein(moons(1000, g), test)
    untrained = wasserstein(x0, test)
    # measured: 0.47 after 1000 steps (the source itself: 2.6); the benchmark's 5000 steps: 0.37
    assert w2 < 0.55 and untrained > 2
    assert floor < w2


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    def run(directory, fail_at=None):
        torch.manual_seed(1)
        model = VelocityField(2, width=16, depth=2)
        calls = [0]

        def loss(m, x0, x1, g):
            calls[0] += 1
            if calls[0] == fail_at:
                raise KeyboardInterrupt
            return _ot_loss(m, x0, x1, g)

        fit_pairs(model, loss, eight_gaussians, moons, steps=40, batch_size=64, checkpoint_dir=str(directory))
        return model

    straight = run(tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "b", fail_at=27)
    resumed = run(tmp_path / "b")             # picks up latest.pt, written at step 24
    for p, q in zip(straight.parameters(), resumed.parameters()):
        torch.testing.assert_close(p, q, atol=0, rtol=0)


def test_toy_distributions():
    g = torch.Generator().manual_seed(0)
    x = checkerboard(20000, g)
    cell = torch.floor((x + 4) / 2)
    assert x.abs().max() <= 4 and torch.all((cell.sum(1) % 2) == 0)
    y = eight_gaussians(20000, g)
    radius = y.norm(dim=1)
    assert abs(float(radius.mean()) - 5.0) < 0.05
    # noiseless moons lie on the unit circle about (0, 0) (upper arc) or about (1, 1/2) (lower arc)
    m = (moons(20000, g, noise=0.0, dtype=torch.float64) + 1) / 3
    upper = ((m.norm(dim=1) - 1).abs() < 1e-9) & (m[:, 1] >= 0)
    lower = (((m - torch.tensor([1.0, 0.5], dtype=torch.float64)).norm(dim=1) - 1).abs() < 1e-9) & (m[:, 1] <= 0.5)
    assert (upper | lower).all() and abs(float(upper.double().mean()) - 0.5) < 0.02
    with pytest.raises(ValueError, match="positive int"):
        moons(0)


def test_populations_are_unpaired_snapshots_of_the_right_law():
    ou = OUPopulation()
    times, snaps = ou.snapshots(4000, seed=0)
    Phi, shift, Q = ou.reference.transition(3.0)
    mean = ou.initial_mean @ Phi.T + shift
    cov = 0.04 * Phi @ Phi.T + Q
    assert (snaps[3].mean(0) - mean).abs().max() < 0.03
    assert (torch.cov(snaps[3].T) - cov).abs().max() < 0.01
    assert len(snaps) == 7 and times.tolist() == list(range(7))
    paths = ou.solve(ou.sample_inputs(5, torch.Generator().manual_seed(1)))
    assert paths.shape == (5, 7, 2)
    rep = Repressilator(times=(0.0, 2.0))
    _, (x0, x2) = rep.snapshots(300, seed=0)
    assert (x0.mean(0) - torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)).abs().max() < 0.03
    # the noise is small (0.02 x): the mean follows the deterministic repressilator
    from scipy.integrate import solve_ivp

    def rhs(t, x):
        return [10 / (1 + x[(i - 1) % 3] ** 3) - x[i] for i in range(3)]

    ode = solve_ivp(rhs, (0, 2), [1.0, 1.0, 2.0], rtol=1e-10, atol=1e-10).y[:, -1]
    assert (x2.mean(0) - torch.as_tensor(ode)).abs().max() < 0.15
    with pytest.raises(ValueError, match="increasing"):
        OUPopulation(times=(0.0, 0.0))
