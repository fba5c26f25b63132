"""Spectral-Refiner: windows, the Bochner loss, widening and freezing, the estimator on
solver trajectories, and a short stage-1 + stage-2 run on generated Navier–Stokes data."""

import pytest
import torch

from problems.navier_stokes import NavierStokes
from sciml.operators import SFNO, BochnerL2, TrajectoryWindows, refine, train_sfno
from sciml.operators.refiner import freeze_except_output, widen_output

DT_FRAMES = 0.2


@pytest.fixture(scope="module")
def flow():
    """Forced nu = 1e-3 flow at 32^2, frames every 0.2: 8 training trajectories and one
    test trajectory of 31 frames."""
    problem = NavierStokes(resolution=32, viscosity=1e-3, t_end=6.0, n_times=31, dt=2e-3)
    w = problem.solve(problem.sample_inputs(9, torch.Generator().manual_seed(0)).double())
    return problem, w


@pytest.fixture(scope="module")
def trained(flow):
    problem, w = flow
    torch.manual_seed(0)
    model = SFNO(modes=(6, 6, 4), width=8, latent_steps=6, out_steps=10)
    trainer = train_sfno(model, TrajectoryWindows(w[:8], 10, 10, stride=2), epochs=8, batch_size=4,
                         progress=False)
    return model, trainer


def test_windows_hold_consecutive_frames():
    traj = torch.arange(2 * 9 * 4 * 4, dtype=torch.float64).view(2, 9, 4, 4)
    ds = TrajectoryWindows(traj, 3, 2, stride=2)
    assert len(ds) == 2 * 3  # starts 0, 2, 4 in each trajectory
    item = ds[4]  # trajectory 1, start 2
    torch.testing.assert_close(item["x"], traj[1, None, 2:5].float())
    torch.testing.assert_close(item["y"], traj[1, None, 5:7].float())
    fields = torch.stack([traj, -traj], dim=1)  # (n, channels, T, x, y)
    torch.testing.assert_close(TrajectoryWindows(fields, 3, 2, stride=2)[4]["x"], fields[1, :, 2:5].float())
    with pytest.raises(ValueError, match="does not fit"):
        TrajectoryWindows(traj, 5, 5)


def test_bochner_loss_is_the_relative_space_time_norm():
    pred, y = torch.randn(2, 3, 1, 5, 8, 8, dtype=torch.float64)
    expected = ((pred - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean()
    torch.testing.assert_close(BochnerL2()(pred, y), expected)


def test_widening_keeps_the_prediction_and_freezing_leaves_only_the_output():
    torch.manual_seed(0)
    model = SFNO(modes=(4, 4, 3), width=8, delta=0.1).double()
    with torch.no_grad():
        model.output.conv.bias.normal_()
    x = torch.randn(1, 1, 6, 16, 16, dtype=torch.float64)
    before = model(x, 8)
    old = model.output.conv
    new = widen_output(model, (8, 8, 5), delta=1.0)
    assert new.weight.shape == (4, 1, 1, 8, 8, 5, 2)
    torch.testing.assert_close(new.weight[1][:, :, 4:, :4, :3], old.weight[1])  # a negative-x corner
    torch.testing.assert_close(new.delta * new.bias[3][4:, 4:, :3], old.delta * old.bias[3])
    assert (model(x, 8) - before).abs().max() < 1e-4 * before.abs().max()
    freeze_except_output(model)
    model(x, 8).square().sum().backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"output.conv.weight", "output.conv.bias"}
    assert all(p.grad is None for n, p in model.named_parameters() if n not in trainable)
    with pytest.raises(ValueError, match="must be three ints >="):
        widen_output(model, (2, 8, 5))


def test_estimator_separates_solver_trajectories_from_noisy_ones(flow):
    """eta on a clean solver trajectory is > 100x smaller than with 1% relative noise."""
    problem, w = flow
    clean = w[:2]
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    noisy = clean + 0.01 * clean.std() * noise
    eta_clean = problem.residual_norm(clean, DT_FRAMES)
    eta_noisy = problem.residual_norm(noisy, DT_FRAMES)
    assert (eta_noisy / eta_clean).min() > 100


def test_stage_one_learns(trained):
    _, trainer = trained
    losses = [h["train/loss"] for h in trainer.history]
    assert losses[-1] < 0.2 * losses[0]


def test_fine_tuning_lowers_eta_tenfold_and_the_error_everywhere(flow, trained):
    """Spec check: 50 Adam steps on one 32^2 trajectory lower eta >= 10x without raising
    the error (here it falls, and in every frame)."""
    problem, w = flow
    model, _ = trained
    x, y = w[8:, None, 10:20], w[8:, None, 20:30]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    result = refine(model, x, problem, DT_FRAMES, reference=y, iterations=50, lr_bias=3e-4)
    summary = result.summary()
    assert summary["eta_before"] / summary["eta_after"] > 10
    assert summary["error_after"] < 0.5 * summary["error_before"]
    assert summary["worst_frame_ratio"] < 1
    assert result.eta.shape == (1, 51) and result.refined.shape == y.shape and result.refined.dtype == torch.float64
    torch.testing.assert_close(result.initial.float(), model(x.float()), atol=1e-5, rtol=1e-4)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # the model is untouched


def test_refine_errors(flow, trained):
    problem, w = flow
    model, _ = trained
    x = w[8:, None, 10:20]
    with pytest.raises(ValueError, match="solver_resolution=16"):
        refine(model, x[..., ::2, ::2], problem, DT_FRAMES)
    with pytest.raises(ValueError, match="out_steps >= 5"):
        refine(model, x, problem, DT_FRAMES, out_steps=4)
    with pytest.raises(ValueError, match="reference must have shape"):
        refine(model, x, problem, DT_FRAMES, reference=x[:, :, :3])
    with pytest.raises(TypeError, match="SFNO"):
        refine(torch.nn.Linear(2, 2), x, problem, DT_FRAMES)
