"""NeuralSDE, the SDE step error and its regularisers, latent ODE/SDE models and the
regularised Trainer objective."""

import math

import pytest
import torch
from torch import nn

from sciml.nde import LambdaSchedule, LatentODE, LatentSDE, NeuralODE, NeuralSDE, RegularizedObjective
from sciml.solvers import BrownianPath, initial_step_size, sde_initial_step, sde_step_error, solve_sde
from sciml.train import Trainer

DT = torch.float64


class Drift(nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)).double()

    def forward(self, t, y):
        return self.net(y)


class Diffusion(nn.Module):
    def __init__(self, scale=0.2):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([scale, 0.5 * scale], dtype=DT))

    def forward(self, t, y):
        return self.w * (1 + 0.1 * y.square())


Y0 = torch.tensor([[1.0, -0.5], [0.3, 0.8], [-0.7, 0.1]], dtype=DT)


def test_step_error_is_step_doubling_on_the_same_path():
    """E = RMS((two half steps - one full step) / (atol + rtol max(|y|, |y1|))) for Euler,
    rebuilt from the same Brownian path by hand."""
    sde = NeuralSDE(Drift(), Diffusion())
    t, h, seed = 0.3, 0.05, 11
    est = sde_step_error(sde, t, Y0, h, "euler", rtol=1e-2, atol=1e-3, seed=seed)
    bm = BrownianPath(t, t + h, (3, 2), seed=seed, dtype=DT)

    def euler(s, y, dt, dw):
        return y + sde.f(s, y) * dt + sde.g(s, y) * dw

    full = euler(t, Y0, h, bm(t, t + h))
    half = euler(t, Y0, h / 2, bm(t, t + h / 2))
    two = euler(t + h / 2, half, h / 2, bm(t + h / 2, t + h))
    scale = torch.maximum(Y0.abs(), two.abs()) * 1e-2 + 1e-3
    expected = torch.linalg.vector_norm((two - full) / scale) / math.sqrt(6)
    assert torch.allclose(est.error, expected, rtol=1e-12)
    assert torch.allclose(est.y, two, rtol=1e-12)
    assert est.nfe == 3


def test_heun_step_error_is_the_embedded_estimate():
    sde = NeuralSDE(Drift(), Diffusion(), sde_type="stratonovich")
    est = sde_step_error(sde, 0.0, Y0, 0.1, "heun", rtol=1e-3, atol=1e-3, seed=3)
    dw = BrownianPath(0.0, 0.1, (3, 2), seed=3, dtype=DT)(0.0, 0.1)
    pred = Y0 + sde.f(0, Y0) * 0.1 + sde.g(0, Y0) * dw
    assert est.nfe == 2
    assert est.error.item() > 0 and torch.isfinite(est.error)
    expected = torch.linalg.vector_norm((est.y - pred) / (torch.maximum(Y0.abs(), est.y.abs()) * 1e-3 + 1e-3))
    assert torch.allclose(est.error, expected / math.sqrt(6), rtol=1e-12)


def test_initial_step_reduces_to_the_ode_heuristic_without_noise():
    sde = NeuralSDE(Drift(), Diffusion(0.0), sde_type="stratonovich")
    for method, order in (("euler", 0.5), ("heun", 0.5), ("srk", 1.5)):
        sde.sde_type = "stratonovich" if method == "heun" else "ito"
        h, nfe = sde_initial_step(sde, 0.2, Y0, 1e-4, 1e-6, method)
        flat = Y0.reshape(-1)

        def f(t, y):
            return sde.f(t, y.view_as(Y0)).reshape(-1)

        with torch.no_grad():
            ref = initial_step_size(f, 0.2, flat.clone(), order + 0.5, 1e-4, 1e-6,
                                    f0=f(torch.tensor(0.2, dtype=DT), flat))
        assert nfe == 2 and h == pytest.approx(ref, rel=1e-12)
    noisy = NeuralSDE(Drift(), Diffusion(0.5))
    assert sde_initial_step(noisy, 0.2, Y0, 1e-4, 1e-6, "euler")[0] < h  # noise shrinks the step


def _quiet_solve(model, t1=2.0):
    """An adaptive solve of the noise-free SDE (deterministic: hand rebuilds match)."""
    return model(Y0, torch.tensor([0.0, t1], dtype=DT))


def test_global_regularizer_equals_the_sum_over_recorded_steps():
    model = NeuralSDE(Drift(), Diffusion(0.0), adaptive=True, regularize="error", method="euler", rtol=1e-3,
                      atol=1e-3, dt=0.05)
    _quiet_solve(model)
    ends = [0.0] + list(model.stats.step_ts)
    assert len(ends) - 1 == model.stats.n_steps > 5
    y, by_hand = Y0, 0.0
    for a, b in zip(ends[:-1], ends[1:]):
        est = sde_step_error(model, a, y, b - a, "euler", rtol=1e-3, atol=1e-3)
        by_hand, y = by_hand + (b - a) * est.error, est.y
    assert torch.allclose(model.regularization(), by_hand, rtol=1e-10)
    assert torch.allclose(model.regularization("mean"), by_hand / model.stats.n_steps, rtol=1e-10)


def test_global_regularizer_gradient_matches_finite_differences_with_frozen_steps():
    model = NeuralSDE(Drift(), Diffusion(0.0), adaptive=True, regularize="error", method="euler", rtol=1e-3,
                      atol=1e-3, dt=0.05)
    _quiet_solve(model)
    ends = [0.0] + list(model.stats.step_ts)
    w = model.drift.net[0].weight
    model.zero_grad()
    model.regularization().backward()
    grad = w.grad[0, 1].item()

    def frozen():
        y, total = Y0, 0.0
        for a, b in zip(ends[:-1], ends[1:]):
            est = sde_step_error(model, a, y, b - a, "euler", rtol=1e-3, atol=1e-3)
            total, y = total + (b - a) * float(est.error), est.y
        return total

    eps = 1e-6
    with torch.no_grad():
        w[0, 1] += eps
        up = frozen()
        w[0, 1] -= 2 * eps
        down = frozen()
        w[0, 1] += eps
    assert grad == pytest.approx((up - down) / (2 * eps), rel=1e-5)


def test_configuration_errors():
    with pytest.raises(ValueError, match="reversible adjoint"):
        NeuralSDE(Drift(), Diffusion(), method="reversible_heun", sde_type="stratonovich", adjoint=True,
                  adaptive=True, regularize="error")
    with pytest.raises(ValueError, match="adaptive=True"):
        NeuralSDE(Drift(), Diffusion(), regularize="error")
    with pytest.raises(ValueError, match="stiffness|None or 'error'"):
        NeuralSDE(Drift(), Diffusion(), adaptive=True, regularize="stiffness")
    with pytest.raises(ValueError, match="not both"):
        NeuralSDE(Drift(), Diffusion(), adaptive=True, regularize="error", local="biased")
    with pytest.raises(ValueError, match="fixed steps"):
        NeuralSDE(Drift(), Diffusion(), adaptive=True, prior_drift=Drift())
    with pytest.raises(RuntimeError, match="training mode"):
        NeuralSDE(Drift(), Diffusion(), local="unbiased").regularization()
    with pytest.raises(ValueError, match="logqp"):
        sde = NeuralSDE(Drift(), Diffusion(), method="reversible_heun", sde_type="stratonovich",
                        prior_drift=Drift())
        solve_sde(sde, Y0, torch.tensor([0.0, 1.0], dtype=DT), method="reversible_heun", adjoint=True, logqp=True)


def test_local_regularizer_is_one_step_from_the_solution_at_t_s():
    """Noise-free, so the extra step can be rebuilt: E(t_s) h from y(t_s) with the SDE
    starting step; its evaluations are added to the forward NFE."""
    model = NeuralSDE(Drift(), Diffusion(0.0), local="unbiased", method="euler", dt=0.01, rtol=1e-3, atol=1e-3,
                      seed=4)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=DT)
    ys = model(Y0, t)
    t_s = model.t_s
    assert 0.0 < t_s < 1.0 and ys.shape == (3, 3, 2)
    y_s = NeuralSDE(model.drift, model.diffusion, method="euler", dt=0.01)(Y0, torch.tensor(
        sorted({0.0, 0.5, 1.0, t_s}), dtype=DT), seed=0)[sorted({0.0, 0.5, 1.0, t_s}).index(t_s)]
    h, _ = sde_initial_step(model, t_s, y_s, 1e-3, 1e-3, "euler")
    est = sde_step_error(model, t_s, y_s, min(h, 1.0 - t_s), "euler", rtol=1e-3, atol=1e-3)
    assert torch.allclose(model.regularization(), est.error * min(h, 1.0 - t_s), rtol=1e-8)
    assert model.nfe == model.stats.nfe + 2 + 3
    model.eval()
    model(Y0, t)
    assert model.local_value is None and model.nfe == model.stats.nfe


def test_local_regularizer_with_the_reversible_adjoint_and_biased_times():
    model = NeuralSDE(Drift(), Diffusion(), method="reversible_heun", sde_type="stratonovich", adjoint=True,
                      local="biased", dt=0.05, seed=1)
    t = torch.tensor([0.0, 1.0], dtype=DT)
    model(Y0, t)  # the first pass samples uniformly; later passes from the step starts
    starts = [0.0] + list(model.stats.step_ts[:-1])
    model(Y0, t)
    assert model.t_s in starts and len(starts) >= 20
    model.zero_grad()
    model.regularization().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    ys = model(Y0, t)
    (ys[-1].sum() + 1e3 * model.regularization()).backward()
    assert model.nfe_backward > 0


def test_training_with_the_global_sde_regularizer_lowers_nfe():
    """Fit an OU-like SDE's mean path; the same seed with lambda > 0 solves in fewer steps."""
    def train(lam):
        torch.manual_seed(0)
        drift = Drift(seed=0)
        model = NeuralSDE(drift, Diffusion(0.05), method="heun", sde_type="stratonovich", adaptive=True,
                          regularize="error" if lam else None, rtol=1e-4, atol=1e-4, seed=0)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        y0 = torch.linspace(-1, 1, 32, dtype=DT).view(-1, 1).expand(-1, 2).contiguous()
        t = torch.tensor([0.0, 1.0], dtype=DT)
        for _ in range(40):
            opt.zero_grad()
            mse = (model(y0, t)[-1] - 2 * y0).square().mean()
            loss = mse + lam * model.regularization() if lam else mse
            loss.backward()
            opt.step()
        model.eval()
        model(y0, t)
        return model.nfe, mse.item()

    nfe0, mse0 = train(0.0)  # measured: 156 NFE, MSE 5.1e-3
    nfe1, mse1 = train(0.1)  # measured: 144 NFE, MSE 1.6e-2 (the target's variance is 1.4)
    assert nfe1 <= 0.95 * nfe0
    assert mse0 < 0.02 and mse1 < 0.05


def _series(n=48, steps=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 3, steps)
    w = 1 + torch.rand(n, 1, generator=g)
    phase = 2 * math.pi * torch.rand(n, 1, generator=g)
    ys = torch.stack([torch.sin(w * t + phase), torch.cos(w * t + phase)], -1)
    return ys, t


class _Series(torch.utils.data.Dataset):
    def __init__(self, ys):
        self.ys = ys

    def __len__(self):
        return len(self.ys)

    def __getitem__(self, i):
        return {"x": self.ys[i]}


@pytest.mark.parametrize("cls,kwargs", [(LatentODE, dict(rtol=1e-4, atol=1e-4)),
                                        (LatentSDE, dict(dt=0.1, local="unbiased"))])
def test_latent_models_learn_through_the_trainer(cls, kwargs, tmp_path):
    torch.manual_seed(0)
    ys, t = _series()
    model = cls(2, latent_dim=4, hidden=24, obs_std=0.05, **kwargs)
    objective = RegularizedObjective(lambda m, b: m.loss(b["x"], t), lam=1.0)
    trainer = Trainer(model, objective=objective, max_epochs=20, batch_size=16, progress=False,
                      optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), checkpoint_dir=str(tmp_path))
    history = trainer.fit(_Series(ys))
    first, last = history[0], history[-1]
    assert last["train/mse"] < 0.25 * first["train/mse"]
    assert last["train/nfe"] > 0 and "train/kl_z0" in last
    assert ("train/kl_path" in last) == (cls is LatentSDE)
    model.eval()
    out = model(ys[:4], t)
    assert out.mean.shape == (4, 16, 2) and out.z.shape == (4, 16, 4)
    if cls is LatentSDE:
        assert model.sample_prior(3, t).shape == (3, 16, 2)
        assert "train/reg" in last
    else:
        assert model.extrapolate(ys[:4], t, torch.linspace(0, 5, 7)).shape == (4, 7, 2)
    with pytest.raises(ValueError, match="ys must have shape"):
        model(ys[:4, :, :1], t)
    with pytest.raises(ValueError, match="t must have shape"):
        model(ys[:4], t[:-1])


def test_objective_schedule_is_resumable(tmp_path):
    """The exponential lambda follows the iteration buffer, which is checkpointed."""
    field = Drift()
    model = NeuralODE(field, rtol=1e-5, atol=1e-5, regularize="error")
    schedule = LambdaSchedule(100.0, 10.0, epochs=4, kind="exponential")
    objective = RegularizedObjective(lambda m, b: m(b["x"], torch.tensor([0.0, 1.0], dtype=DT))[-1].square().mean(),
                                     lam=schedule, steps_per_epoch=2)
    data = [{"x": Y0[i]} for i in range(3)]
    history = Trainer(model, objective=objective, max_epochs=3, batch_size=2, progress=False,
                      checkpoint_dir=str(tmp_path)).fit(data)
    assert [h["train/lambda"] for h in history] == pytest.approx([schedule(e) for e in range(3)])
    assert int(model.iterations) == 6
    state = torch.load(tmp_path / "latest.pt", weights_only=True)["model"]
    assert int(state["iterations"]) == 6
    with pytest.raises(ValueError, match="steps_per_epoch"):
        RegularizedObjective(lambda m, b: 0, lam=schedule)
    with pytest.raises(ValueError, match="no NeuralODE"):
        RegularizedObjective(lambda m, b: 0)(nn.Linear(2, 2), None)
