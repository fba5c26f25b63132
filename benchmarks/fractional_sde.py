"""Variational inference for SDEs driven by fractional noise (Daems et al., ICLR 2024).

(a) fractional OU bridge: prior ``dX = -theta X dt + dB^H``, ``X_0 = 0``, one noisy
    observation ``X_2 = 0`` (std 0.1); theta in {0, 1, 2}, H in {0.2, 0.3, 0.5, 0.7, 0.8}.
    MA-fBM type II (K = 5, gamma_max = 20, fitted on [0, 2]), Euler with dt = 0.02
    (additive noise: Itô = Stratonovich), control MLP(64, 64) on [sin t, cos t, x, Y],
    Adam 3e-3, batch 32. Reported: the largest relative error of the learned posterior
    std on (0, 2) (4,000 paths) against (i) the exact Gaussian conditioning of the fOU
    with the exact fBM covariance and (ii) the conditioning of the MA-fBM prior itself
    (covariance of 20,000 prior paths on the same grid), which separates the VI error
    from the Markov approximation's. Target: (i) within 10%.
(b) Hurst recovery: 64 exact type II fOU paths (theta* = 1, Cholesky of the exact
    covariance, 100 points on [0, 1], observation noise 0.01) for H* in {0.3, 0.7};
    a :class:`LatentFractionalSDE` (identity decoder, x_0 = 0, learnable theta, sigma and
    H = sigmoid(raw) from 0.5) trained on the ELBO. Target |H_hat - H*| <= 0.05.
(c) the same model with Brownian noise (H fixed at 0.5) on the same data: held-out
    ELBO per path (a lower bound on the log-likelihood, 64 fresh paths, 8 posterior
    samples each) with learned H vs H = 0.5.
(d) video, CPU-sized: 16-frame 32x32 stochastic moving digits whose positions follow
    exact fBM with H* = 0.7 (:func:`sciml.nde.moving_digits`); a convolutional latent
    fractional SDE (d = 4) with learned H vs Brownian noise; held-out reconstruction
    MSE (posterior mean path) against two baselines (blank frames, each video's mean
    frame) and held-out ELBO. The paper's 64x64 moving-MNIST setting is a GPU job.

    python benchmarks/fractional_sde.py --jobs 2
    python benchmarks/fractional_sde.py --quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _runs import run_jobs  # noqa: E402
from sciml.nde import (ConstantDiffusion, FractionalSDE, FrameDecoder, FrameEncoder,  # noqa: E402
                       LatentFractionalSDE, LinearDrift, conditional_std, fractional_ou_covariance, moving_digits)

DT = torch.float64


class BridgeControl(nn.Module):
    def __init__(self, n_processes: int, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3 + n_processes, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                                 nn.Linear(width, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, t, x, y, context):
        tt = torch.as_tensor(t, dtype=x.dtype).expand(x.shape[0], 1)
        return self.net(torch.cat([torch.sin(tt), torch.cos(tt), x, y.flatten(1)], -1))


def bridge(theta: float, hurst: float, iterations: int, seed: int = 0, kind: str = "II") -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    model = FractionalSDE(LinearDrift(1, theta), ConstantDiffusion(1, 1.0), BridgeControl(5), hurst=hurst,
                          learn_hurst=False, kind=kind, horizon=2.0, sde_type="ito").double()
    model.drift.requires_grad_(False)
    model.diffusion.requires_grad_(False)
    ts = torch.linspace(0, 2, 21, dtype=DT)
    opt = torch.optim.Adam(model.control.parameters(), lr=3e-3)
    start = time.perf_counter()
    for _ in range(iterations):
        opt.zero_grad()
        p = model.sample(torch.zeros(32, 1, dtype=DT), ts, dt=0.02)
        (0.5 * (p.xs[-1, :, 0] / 0.1) ** 2 + p.kl).mean().backward()
        opt.step()
    with torch.no_grad():
        std = model.sample(torch.zeros(4000, 1, dtype=DT), ts, dt=0.02, seed=10_000 + seed).xs[..., 0].std(1)
        prior = model.sample(torch.zeros(20_000, 1, dtype=DT), ts, dt=0.02, posterior=False, seed=20_000 + seed)
    exact = conditional_std(fractional_ou_covariance(ts, theta, hurst, kind), 20, 0.1)
    markov = conditional_std(torch.cov(prior.xs[..., 0]), 20, 0.1)
    inner = slice(1, 20)

    def worst(ref):
        return float(((std[inner] - ref[inner]).abs() / ref[inner]).max())

    return {"theta": theta, "hurst": hurst, "vs_exact": worst(exact), "vs_markov": worst(markov),
            "markov_vs_exact": float(((markov[inner] - exact[inner]).abs() / exact[inner]).max()),
            "seconds": time.perf_counter() - start}


def fou_paths(hurst: float, n: int, seed: int, points: int = 100, noise: float = 0.01) -> tuple:
    """``(ts, noisy observations (n, points, 1))`` of exact type II fOU paths, theta = 1."""
    ts = torch.linspace(0, 1, points, dtype=DT)
    cov = fractional_ou_covariance(ts, 1.0, hurst, "II", refine=10)
    g = torch.Generator().manual_seed(seed)
    factor = torch.linalg.cholesky(cov[1:, 1:])
    paths = torch.cat([torch.zeros(n, 1, dtype=DT), torch.randn(n, points - 1, generator=g, dtype=DT) @ factor.T], 1)
    return ts, (paths + noise * torch.randn(n, points, generator=g, dtype=DT)).unsqueeze(-1)


def hurst_fit(true_hurst: float, learn: bool, iterations: int, seed: int = 0, n_paths: int = 64,
              gamma_max: float = 20.0) -> dict:
    torch.set_num_threads(1)
    ts, data = fou_paths(true_hurst, n_paths, seed)
    _, held_out = fou_paths(true_hurst, 64, seed + 100)
    torch.manual_seed(seed)
    model = LatentFractionalSDE(1, 1, hidden=32, context_dim=8, drift=LinearDrift(1, 0.5),
                                diffusion=ConstantDiffusion(1, 1.0), hurst=0.5, learn_hurst=learn, kind="II",
                                gamma_max=gamma_max, dt=min(float(ts[1]), 0.45 / gamma_max), decoder="identity",
                                obs_std=0.01, learn_x0=False).double()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    start, trace = time.perf_counter(), []
    for i in range(iterations):
        idx = torch.randperm(n_paths)[:32]
        opt.zero_grad()
        model.loss(data[idx], ts)[0].backward()
        opt.step()
        if i % max(1, iterations // 10) == 0:
            trace.append(round(model.hurst.item(), 3))
    model.eval()
    with torch.no_grad():  # held-out ELBO per path, mean over 8 posterior samples
        elbo = -sum(float(model.loss(held_out, ts, seed=s)[0]) for s in range(8)) / 8
    return {"true": true_hurst, "learn": learn, "hurst": model.hurst.item(), "trace": trace,
            "theta": model.sde.drift.theta.item(), "sigma": model.sde.diffusion(0, torch.zeros(1, 1)).item(),
            "elbo": elbo, "seconds": time.perf_counter() - start}


def video(learn: bool, iterations: int, seed: int = 0, n_train: int = 256) -> dict:
    torch.set_num_threads(1)
    train, _, times = moving_digits(n_train, 16, hurst=0.7, seed=seed)
    test, _, _ = moving_digits(64, 16, hurst=0.7, seed=seed + 1)
    torch.manual_seed(seed)
    model = LatentFractionalSDE(64, latent_dim=4, hidden=64, context_dim=16, frame_encoder=FrameEncoder(features=64),
                                decoder=FrameDecoder(4), hurst=0.5, learn_hurst=learn, dt=0.02, obs_std=0.1)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    start = time.perf_counter()
    for _ in range(iterations):
        idx = torch.randperm(n_train)[:16]
        opt.zero_grad()
        model.loss(train[idx], times)[0].backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        mse = float((model(test, times, seed=1)[0] - test).square().mean())
        elbo = -sum(float(model.loss(test, times, seed=s)[0]) for s in range(4)) / 4
    return {"learn": learn, "hurst": model.hurst.item(), "mse": mse, "elbo": elbo,
            "blank": float(test.square().mean()),
            "mean_frame": float((test - test.mean(1, keepdim=True)).square().mean()),
            "seconds": time.perf_counter() - start}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bridge-iterations", type=int, default=1000)
    parser.add_argument("--hurst-iterations", type=int, default=1500)
    parser.add_argument("--thetas", type=float, nargs="*", default=[0.0, 1.0, 2.0])
    parser.add_argument("--hursts", type=float, nargs="*", default=[0.2, 0.3, 0.5, 0.7, 0.8])
    parser.add_argument("--video-iterations", type=int, default=600)
    parser.add_argument("--gamma-max", type=float, default=20.0, help="fastest OU speed of the Hurst-recovery model")
    parser.add_argument("--true-hursts", type=float, nargs="*", default=[0.3, 0.7])
    parser.add_argument("--parts", nargs="*", default=["bridge", "hurst", "video"],
                        choices=["bridge", "hurst", "video"])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--quick", action="store_true", help="CI-sized: one bridge, short Hurst runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.bridge_iterations, args.hurst_iterations, args.thetas, args.hursts = 30, 10, [1.0], [0.7]
        args.video_iterations = 3
    out = {}
    if "bridge" in args.parts:
        rows = run_jobs(bridge, [(th, h, args.bridge_iterations) for th in args.thetas for h in args.hursts], args.jobs)
        print(f"(a) fOU bridge, {args.bridge_iterations} Adam steps: max relative error of the posterior std on (0, 2)")
        print(f"{'theta':>5s} {'H':>4s} {'vs exact':>9s} {'vs MA-fBM':>9s} {'MA-fBM vs exact':>15s} {'s':>6s}")
        for r in rows:
            print(f"{r['theta']:5.1f} {r['hurst']:4.1f} {r['vs_exact']:9.3f} {r['vs_markov']:9.3f} "
                  f"{r['markov_vs_exact']:15.3f} {r['seconds']:6.0f}")
        out["bridge"] = rows
    if "hurst" in args.parts:
        jobs = [(h, learn, args.hurst_iterations, 0, 64, args.gamma_max) for h in args.true_hursts
                for learn in (True, False)]
        rows = run_jobs(hurst_fit, jobs, args.jobs)
        print(f"(b, c) Hurst recovery on 64 exact fOU paths (theta* = 1), {args.hurst_iterations} Adam steps, "
              f"gamma_max {args.gamma_max:g}")
        print(f"{'H*':>4s} {'noise':>10s} {'H_hat':>6s} {'|err|':>6s} {'theta':>6s} {'sigma':>6s} "
              f"{'held-out ELBO':>13s}   H during training")
        for r in rows:
            noise = "fractional" if r["learn"] else "Brownian"
            print(f"{r['true']:4.1f} {noise:>10s} {r['hurst']:6.3f} {abs(r['hurst'] - r['true']):6.3f} "
                  f"{r['theta']:6.3f} {r['sigma']:6.3f} {r['elbo']:13.1f}   {r['trace']}")
        out["hurst"] = rows
    if "video" in args.parts:
        rows = run_jobs(video, [(True, args.video_iterations), (False, args.video_iterations)], args.jobs)
        print(f"(d) moving digits (fBM motion, H* = 0.7), {args.video_iterations} Adam steps, 64 held-out videos")
        print(f"{'noise':>10s} {'H_hat':>6s} {'recon MSE':>10s} {'blank':>8s} {'mean frame':>10s} {'ELBO':>10s}")
        for r in rows:
            print(f"{'fractional' if r['learn'] else 'Brownian':>10s} {r['hurst']:6.3f} {r['mse']:10.4f} "
                  f"{r['blank']:8.4f} {r['mean_frame']:10.4f} {r['elbo']:10.1f}")
        out["video"] = rows
    return out


if __name__ == "__main__":
    main()
