"""Solver-heuristic regularisation of neural ODEs on the endpoint toy of Kelly et al.:
fit ``z1 = z0 + z0^3``, ``z0 ~ U[-1, 1]``, with ``dz/dt = MLP([z, t])`` (2 -> 64 -> 64 -> 1,
tanh), Tsit5 at rtol = atol = 1e-8, MSE at t = 1, Adam 1e-2, batch 256.

Methods (same seed, data and budget): vanilla; global ERNODE (``R_E``, lambda 1e-3) and
SRNODE (``R_S``, lambda 1e-3) by backpropagation through the solver; local ERNODE with
unbiased and biased ``t_s`` (lambda 1e-3); STEER (end time ~ U(0.5, 1.5)); TayNODE
(``R_2``, lambda 1e-3). Reported per method, mean over seeds: test MSE and test NFE on
1024 fresh points, training seconds, prediction seconds (median of 5).

    python benchmarks/regularized_nde.py --iterations 1000 --seeds 0 1 2 --jobs 2
    python benchmarks/regularized_nde.py --quick
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
from sciml.nde import NeuralODE, TaylorField, steer_time  # noqa: E402

METHODS = ("vanilla", "ernode", "srnode", "local_unbiased", "local_biased", "steer", "taynode")
DT = torch.float64


class Field(nn.Module):
    """The time-concatenated MLP ``[z, t] -> dz/dt``."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                                 nn.Linear(width, 1))

    def forward(self, t, z):
        return self.net(torch.cat([z, torch.as_tensor(t, dtype=z.dtype).expand(z.shape[0], 1)], 1))


def run(method: str, seed: int, iterations: int, lam: float = 1e-3, tol: float = 1e-8) -> dict:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    field = Field().double()
    kwargs = dict(rtol=tol, atol=tol)
    if method in ("ernode", "srnode"):
        model = NeuralODE(field, regularize="error" if method == "ernode" else "stiffness", **kwargs)
    elif method.startswith("local"):
        model = NeuralODE(field, local=method.split("_")[1], seed=seed, **kwargs)
    else:
        model = NeuralODE(field, **kwargs)
    taylor = NeuralODE(TaylorField(field, 2), **kwargs) if method == "taynode" else None
    g = torch.Generator().manual_seed(1000 + seed)
    opt = torch.optim.Adam(field.parameters(), lr=1e-2)
    t = torch.tensor([0.0, 1.0], dtype=DT)
    start = time.perf_counter()
    for _ in range(iterations):
        z0 = 2 * torch.rand(256, 1, generator=g, dtype=DT) - 1
        z1 = z0 + z0 ** 3
        opt.zero_grad()
        if method == "taynode":
            zs, rs = taylor((z0, torch.zeros(256, 1, dtype=DT)), t)
            loss = (zs[-1] - z1).square().mean() + lam * rs[-1].mean()
        elif method == "steer":
            t_end = steer_time(1.0, 0.5, g)
            pred = model(z0, torch.tensor([0.0, t_end], dtype=DT))[-1]
            loss = (pred - z1).square().mean()
        else:
            loss = (model(z0, t)[-1] - z1).square().mean()
            if method != "vanilla":
                loss = loss + lam * model.regularization()
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - start
    test_model = NeuralODE(field, **kwargs).eval()
    z0 = 2 * torch.rand(1024, 1, generator=torch.Generator().manual_seed(99), dtype=DT) - 1
    times = []
    with torch.no_grad():
        for _ in range(5):
            s = time.perf_counter()
            pred = test_model(z0, t)[-1]
            times.append(time.perf_counter() - s)
    return {"method": method, "seed": seed, "mse": float((pred - (z0 + z0 ** 3)).square().mean()),
            "nfe": test_model.nfe, "train_s": train_s, "predict_s": statistics.median(times)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--lam", type=float, default=1e-3, help="weight of the global and TayNODE regularisers")
    parser.add_argument("--local-lam", type=float, default=1e-3, help="weight of the local regulariser")
    parser.add_argument("--quick", action="store_true", help="CI-sized: 20 iterations, one seed, tol 1e-6")
    args = parser.parse_args(argv)
    iterations, seeds = (20, [0]) if args.quick else (args.iterations, args.seeds)
    tol = 1e-6 if args.quick else 1e-8
    jobs = [(m, s, iterations, args.local_lam if m.startswith("local") else args.lam, tol)
            for m in args.methods for s in seeds]
    rows = run_jobs(run, jobs, args.jobs)
    summary = by_method(rows, args.methods, ("mse", "nfe", "train_s", "predict_s"))
    print(f"z1 = z0 + z0^3, tsit5 tol {tol:g}, {iterations} Adam steps, seeds {seeds}, lambda {args.lam:g} "
          f"(local {args.local_lam:g}); means over seeds")
    print(f"{'method':16s} {'test MSE':>10s} {'test NFE':>9s} {'vs vanilla':>10s} {'train s':>8s} {'predict ms':>10s}")
    for m, s in summary.items():
        print(f"{m:16s} {s['mse']:10.2e} {s['nfe']:9.1f} {s['ratio']:10.3f} {s['train_s']:8.1f} "
              f"{1e3 * s['predict_s']:10.1f}   NFE per seed {s['nfe_per_seed']}")
    return summary


if __name__ == "__main__":
    main()
