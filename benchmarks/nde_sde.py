"""Error-regularised neural SDE on the spiral SDE (the DiffEqFlux neural-SDE example,
the "Spiral NSDE" of Pal et al. 2021).

Data: ``du = (u^3) A dt + 0.2 u dW`` (Itô, diagonal), ``A = [[-0.1, 2], [-2, -0.1]]``,
``u(0) = (2, 0)``, 30 times on [0, 1]; the means and variances of 10,000 paths solved
by the core (srk, dt 1e-3) are the training targets. Model: drift
``Linear(2, 50) -> tanh -> Linear(50, 2)`` on ``u^3``, diagonal diffusion
``Linear(2, 2)``, read as a Stratonovich SDE and solved by adaptive stochastic Heun
(its embedded error estimate costs nothing extra; the paper's SOSRI is an Itô method
of strong order 1.5) at rtol = atol = ``--tol``; loss the squared error of the
100-path means and variances at all 30 times; Adam 2e-3, gradients clipped at norm 10
(a run whose SDE blows up, i.e. whose step size underflows, is reported as failed).

Methods: vanilla; global error regularisation (``R_E`` from the adaptive solve's
accepted steps); local (one extra Heun step from ``u(t_s)``). Reported: the moment loss
on 1,000 fresh paths, NFE to simulate them, training seconds.

    python benchmarks/nde_sde.py --iterations 500 --seeds 0 1 2 --jobs 2
    python benchmarks/nde_sde.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _runs import by_method, run_jobs  # noqa: E402
from sciml.nde import NeuralSDE  # noqa: E402
from sciml.solvers import SolverError, solve_sde  # noqa: E402

DT = torch.float64
A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=DT)
T = torch.linspace(0, 1, 30, dtype=DT)
U0 = torch.tensor([2.0, 0.0], dtype=DT)


class TrueSDE:
    noise_type, sde_type = "diagonal", "ito"

    def f(self, t, u):
        return (u ** 3) @ A

    def g(self, t, u):
        return 0.2 * u


def moments(paths: torch.Tensor) -> torch.Tensor:
    """``(2, T, 2)``: mean and variance over paths of ``(T, paths, 2)``."""
    return torch.stack([paths.mean(1), paths.var(1)])


def targets(n: int = 10_000, seed: int = 0) -> torch.Tensor:
    return moments(solve_sde(TrueSDE(), U0.expand(n, 2).contiguous(), T, method="srk", dt=1e-3, seed=seed).ys)


class Drift(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))

    def forward(self, t, u):
        return self.net(u ** 3)


class Diffusion(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)

    def forward(self, t, u):
        return self.lin(u)


def run(method: str, seed: int, iterations: int, lam: float, tol: float, data: torch.Tensor, lr: float = 2e-3) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    drift, diffusion = Drift().double(), Diffusion().double()
    kwargs = dict(method="heun", sde_type="stratonovich", adaptive=True, rtol=tol, atol=tol, dt=1e-2, seed=seed)
    if method == "global":
        model = NeuralSDE(drift, diffusion, regularize="error", **kwargs)
    elif method.startswith("local"):
        model = NeuralSDE(drift, diffusion, local=method.split("_")[1], **kwargs)
    else:
        model = NeuralSDE(drift, diffusion, **kwargs)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start, nfes, failed = time.perf_counter(), [], None
    for i in range(iterations):
        opt.zero_grad()
        try:
            loss = (moments(model(U0.expand(100, 2).contiguous(), T)) - data).square().sum()
        except SolverError as err:  # the learned SDE blew up: record it, keep the last parameters
            failed = f"iteration {i}: {type(err).__name__}"
            break
        nfes.append(model.nfe)
        if method != "vanilla":
            loss = loss + lam * model.regularization()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
    train_s = time.perf_counter() - start
    test = NeuralSDE(drift, diffusion, **kwargs).eval()
    with torch.no_grad():
        s = time.perf_counter()
        try:
            test_loss = float((moments(test(U0.expand(1000, 2).contiguous(), T, seed=12345)) - data).square().sum())
        except SolverError:
            test_loss, test.stats = float("nan"), None
        predict_s = time.perf_counter() - s
    return {"method": method, "seed": seed, "loss": test_loss, "nfe": test.nfe if test.stats else float("nan"),
            "train_nfe": statistics.mean(nfes) if nfes else float("nan"), "train_s": train_s, "predict_s": predict_s,
            "failed": failed}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=["vanilla", "global", "local_unbiased"])
    parser.add_argument("--lam", type=float, default=10.0, help="weight of the global regulariser")
    parser.add_argument("--local-lam", type=float, default=1000.0, help="weight of the local regulariser")
    parser.add_argument("--tol", type=float, default=1e-2)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--quick", action="store_true", help="CI-sized: 5 iterations, one seed")
    args = parser.parse_args(argv)
    iterations, seeds = (5, [0]) if args.quick else (args.iterations, args.seeds)
    data = targets(2_000 if args.quick else 10_000)
    jobs = [(m, s, iterations, args.local_lam if m.startswith("local") else args.lam, args.tol, data)
            for m in args.methods for s in seeds]
    rows = run_jobs(run, jobs, args.jobs)
    summary = by_method(rows, args.methods, ("loss", "nfe", "train_nfe", "train_s", "predict_s"))
    print(f"spiral SDE, moment matching on 100 paths, adaptive Heun tol {args.tol:g}, {iterations} Adam steps, "
          f"seeds {seeds}, lambda {args.lam:g} (local {args.local_lam:g}); means over seeds")
    print(f"{'method':16s} {'test loss':>10s} {'test NFE':>9s} {'vs vanilla':>10s} {'train NFE':>9s} {'train s':>8s}")
    for m, s in summary.items():
        print(f"{m:16s} {s['loss']:10.3e} {s['nfe']:9.1f} {s['ratio']:10.3f} {s['train_nfe']:9.1f} {s['train_s']:8.1f}"
              f"   NFE per seed {s['nfe_per_seed']}")
        for r in rows:
            if r["method"] == m and r["failed"]:
                print(f"{'':16s} seed {r['seed']} failed at {r['failed']}")
    return summary


if __name__ == "__main__":
    main()
