"""Variational inference for SDEs driven by fractional noise: the controlled MA-fBM
posterior, its KL, the exact fOU references, and the latent fractional SDE."""

import math

import pytest
import torch
from torch import nn

from sciml.nde import (ConstantDiffusion, FractionalSDE, LatentFractionalSDE, LinearDrift, conditional_std,
                       fractional_ou_covariance, interpolate)
from sciml.solvers import MarkovFBM, exact_fbm_covariance
from sciml.train import Trainer

DT = torch.float64


class Constant(nn.Module):
    """``u = c`` in every dimension."""

    def __init__(self, c):
        super().__init__()
        self.c = c

    def forward(self, t, x, y, context):
        return torch.full_like(x, self.c)


class BridgeControl(nn.Module):
    def __init__(self, n_processes, width=64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3 + n_processes, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                                 nn.Linear(width, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, t, x, y, context):
        tt = torch.as_tensor(t, dtype=x.dtype).expand(x.shape[0], 1)
        return self.net(torch.cat([torch.sin(tt), torch.cos(tt), x, y.flatten(1)], -1))


def _model(control, theta=0.0, hurst=0.7, kind="II", **kw):
    return FractionalSDE(LinearDrift(1, theta).double(), ConstantDiffusion(1, 1.0).double(), control, hurst=hurst,
                         kind=kind, sde_type="ito", **kw).double()


def test_kl_of_zero_and_constant_controls():
    x0 = torch.zeros(8, 2, dtype=DT)
    ts = torch.linspace(0, 1.5, 4, dtype=DT)
    zero = _model(Constant(0.0)).sample(x0, ts, dt=0.01, seed=0)
    assert torch.equal(zero.kl, torch.zeros(8, dtype=DT))
    const = _model(Constant(0.3)).sample(x0, ts, dt=0.01, seed=0)
    torch.testing.assert_close(const.kl, torch.full((8,), 0.5 * 0.3 ** 2 * 1.5 * 2, dtype=DT))


@pytest.mark.parametrize("kind", ["I", "II"])
def test_constant_control_shifts_the_mean_by_the_linear_response(kind):
    """The augmented SDE is linear with additive noise, so posterior - prior on the same
    Brownian path (and the same type I start) is the deterministic response to u:
    ``sigma sum_k omega_k u (1 - e^{-gamma_k t}) / gamma_k`` for theta = 0."""
    u, ts = 0.4, torch.linspace(0, 1, 6, dtype=DT)
    model = _model(Constant(u), kind=kind)
    x0 = torch.zeros(5, 1, dtype=DT)
    post = model.sample(x0, ts, dt=1e-3, seed=3, generator=torch.Generator().manual_seed(1)).xs[..., 0]
    prior = model.sample(x0, ts, dt=1e-3, posterior=False, seed=3,
                         generator=torch.Generator().manual_seed(1)).xs[..., 0]
    fbm = MarkovFBM(0.7, 5, 20.0, kind, 1.0)
    g, w = fbm.gammas, fbm.weights
    expected = (w * u * -torch.expm1(-g * ts[:, None]) / g).sum(-1)
    torch.testing.assert_close(post - prior, expected[:, None].expand(-1, 5), atol=2e-3, rtol=0)


def test_gradient_in_hurst_flows_through_the_weights():
    """d(loss)/d(raw H) by autograd equals central differences on the same noise."""
    ts = torch.linspace(0, 1, 5, dtype=DT)
    model = _model(Constant(0.2), hurst=0.4)

    def loss():
        p = model.sample(torch.zeros(16, 1, dtype=DT), ts, dt=0.01, seed=11)
        return (p.xs[-1, :, 0] - 1.0).square().mean() + p.kl.mean()

    model.zero_grad()
    loss().backward()
    grad = model.hurst_raw.grad.item()
    assert grad != 0 and math.isfinite(grad)
    eps = 1e-6
    with torch.no_grad():
        model.hurst_raw += eps
        up = loss().item()
        model.hurst_raw -= 2 * eps
        down = loss().item()
        model.hurst_raw += eps
    assert grad == pytest.approx((up - down) / (2 * eps), rel=1e-5)
    with pytest.raises(ValueError, match="no control"):
        _model(None).sample(torch.zeros(2, 1, dtype=DT), torch.tensor([0.0, 1.0], dtype=DT), dt=0.01)
    with pytest.raises(ValueError, match="hurst"):
        _model(Constant(0.0), hurst=1.0)
    with pytest.raises(ValueError, match="x0"):
        _model(Constant(0.0)).sample(torch.zeros(2, dtype=DT), torch.tensor([0.0, 1.0], dtype=DT), dt=0.01)
    fixed = _model(Constant(0.2), hurst=0.4, learn_hurst=False)
    assert "hurst_raw" not in dict(fixed.named_parameters()) and float(fixed.hurst) == pytest.approx(0.4)


def test_exact_fractional_ou_references():
    ts = torch.linspace(0, 2, 11, dtype=DT)
    ou = fractional_ou_covariance(ts, 1.0, 0.5, "I")  # Brownian OU from 0: Var = (1 - e^{-2t}) / 2
    torch.testing.assert_close(ou.diagonal(), (1 - torch.exp(-2 * ts)) / 2, atol=5e-6, rtol=0)
    s, t = ts[:, None], ts[None, :]
    exact_ou = (torch.exp(-(t - s).abs()) - torch.exp(-(t + s))) / 2
    torch.testing.assert_close(ou, exact_ou, atol=5e-6, rtol=0)
    torch.testing.assert_close(fractional_ou_covariance(ts, 0.0, 0.7, "II"), exact_fbm_covariance(ts, 0.7, "II"))
    # conditioning a Brownian motion on W(1) + noise: Var = t - t^2 / (1 + s^2)
    bm = exact_fbm_covariance(torch.linspace(0, 1, 5, dtype=DT), 0.5, "I")
    std = conditional_std(bm, 4, 0.1)
    tt = torch.linspace(0, 1, 5, dtype=DT)
    torch.testing.assert_close(std, (tt - tt ** 2 / 1.01).sqrt())
    with pytest.raises(ValueError, match="starting at 0"):
        fractional_ou_covariance(ts + 1, 1.0, 0.5)


def test_bridge_posterior_std_matches_exact_conditioning():
    """CI-sized fOU bridge (theta 1, H 0.7, type II): X_0 = 0, one observation X_2 = 0
    with noise 0.1; 300 Adam steps give the exact conditional std within 20% on (0, 2)
    (the benchmark's 1000 steps: within 10%)."""
    torch.manual_seed(0)
    model = _model(BridgeControl(5), theta=1.0, hurst=0.7, learn_hurst=False, horizon=2.0)
    model.drift.theta.requires_grad_(False)
    model.diffusion.raw.requires_grad_(False)
    ts = torch.linspace(0, 2, 21, dtype=DT)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(300):
        opt.zero_grad()
        p = model.sample(torch.zeros(32, 1, dtype=DT), ts, dt=0.02)
        (0.5 * (p.xs[-1, :, 0] / 0.1) ** 2 + p.kl).mean().backward()
        opt.step()
    with torch.no_grad():
        std = model.sample(torch.zeros(2000, 1, dtype=DT), ts, dt=0.02, seed=5).xs[..., 0].std(1)
    exact = conditional_std(fractional_ou_covariance(ts, 1.0, 0.7, "II"), 20, 0.1)
    assert ((std[1:20] - exact[1:20]).abs() / exact[1:20]).max() < 0.2


def test_interpolate():
    t_obs = torch.tensor([0.0, 1.0, 3.0])
    values = torch.tensor([[[0.0], [2.0], [6.0]]])
    assert interpolate(t_obs, values, 0.5).item() == pytest.approx(1.0)
    assert interpolate(t_obs, values, 2.0).item() == pytest.approx(4.0)
    assert interpolate(t_obs, values, 5.0).item() == 6.0 and interpolate(t_obs, values, -1.0).item() == 0.0


class _Series(torch.utils.data.Dataset):
    def __init__(self, ys):
        self.ys = ys

    def __len__(self):
        return len(self.ys)

    def __getitem__(self, i):
        return {"x": self.ys[i]}


def test_latent_fractional_sde_learns_through_the_trainer(tmp_path):
    g = torch.Generator().manual_seed(0)
    t = torch.linspace(0, 1, 12)
    phase = 2 * math.pi * torch.rand(32, 1, generator=g)
    ys = torch.sin(3 * t + phase).unsqueeze(-1) + 0.05 * torch.randn(32, 12, 1, generator=g)
    torch.manual_seed(0)
    model = LatentFractionalSDE(1, latent_dim=2, hidden=32, context_dim=8, hurst=0.5, dt=0.02, obs_std=0.1)
    history = Trainer(model, objective=lambda m, b: m.loss(b["x"], t), max_epochs=15, batch_size=16, progress=False,
                      optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), checkpoint_dir=str(tmp_path)).fit(_Series(ys))
    assert history[-1]["train/mse"] < 0.3 * history[0]["train/mse"]
    assert "train/hurst" in history[-1] and history[-1]["train/kl_path"] > 0
    assert model.sample_prior(3, t).shape == (3, 12, 1)
    with pytest.raises(ValueError, match="ys must have shape"):
        model.loss(ys[:, :, :0], t)
    with pytest.raises(ValueError, match="identity decoder"):
        LatentFractionalSDE(2, latent_dim=3, decoder="identity")
    with pytest.raises(ValueError, match="gamma_max"):
        LatentFractionalSDE(1, dt=0.1)


def test_hurst_is_identifiable_from_exact_paths():
    """Exact type II fOU paths with H* = 0.7 (theta 1): 200 ELBO steps move the learned H
    from 0.5 towards H* (the benchmark runs to convergence)."""
    ts = torch.linspace(0, 1, 50, dtype=DT)
    cov = fractional_ou_covariance(ts, 1.0, 0.7, "II", refine=10)
    g = torch.Generator().manual_seed(0)
    factor = torch.linalg.cholesky(cov[1:, 1:])
    paths = torch.cat([torch.zeros(32, 1, dtype=DT), torch.randn(32, 49, generator=g, dtype=DT) @ factor.T], 1)
    data = (paths + 0.01 * torch.randn(32, 50, generator=g, dtype=DT)).unsqueeze(-1)
    torch.manual_seed(0)
    model = LatentFractionalSDE(1, 1, hidden=32, context_dim=8, drift=LinearDrift(1, 0.5),
                                diffusion=ConstantDiffusion(1, 1.0), kind="II", dt=1 / 49, decoder="identity",
                                obs_std=0.01, learn_x0=False).double()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        model.loss(data, ts)[0].backward()
        opt.step()
    assert model.hurst.item() > 0.58


def test_moving_digits_and_the_convolutional_latent_model():
    from sciml.nde import FrameDecoder, FrameEncoder, moving_digits

    videos, positions, times = moving_digits(6, frames=8, size=32, digit=16, hurst=0.7, seed=1)
    assert videos.shape == (6, 8, 1, 32, 32) and positions.shape == (6, 8, 2) and times.shape == (8,)
    assert 0 <= float(videos.min()) and float(videos.max()) <= 1
    assert bool((positions >= 0).all() and (positions <= 16).all())
    mass = videos.sum((2, 3, 4))  # the whole digit stays on the canvas
    torch.testing.assert_close(mass, mass[:, :1].expand_as(mass))
    again, _, _ = moving_digits(6, frames=8, seed=1)
    assert torch.equal(videos, again)
    torch.manual_seed(0)
    model = LatentFractionalSDE(32, latent_dim=3, hidden=32, context_dim=8, frame_encoder=FrameEncoder(features=32),
                                decoder=FrameDecoder(3), dt=0.02)
    loss, terms = model.loss(videos, times)
    loss.backward()
    assert model.sde.hurst_raw.grad is not None and model.frame_encoder.net[0].weight.grad is not None
    assert model(videos, times)[0].shape == videos.shape
    assert model.sample_prior(2, times).shape == (2, 8, 1, 32, 32)
    with pytest.raises(ValueError, match="power of two"):
        FrameEncoder(size=24)
