"""The stated limitation of solver-heuristic regularisation: trajectory fitting.

Data: the cubic spiral ``y' = (y^3) A``, ``A = [[-0.1, 2], [-2, -0.1]]``, ``y(0) = (2, 0)``,
sampled at 400 times on [0, 10] by the solver core (dopri5, tol 1e-10). Training
batches are 32 random segments of 20 consecutive samples; the test batch is 37 evenly
spaced segments. The model is torchdiffeq's demo field ``Linear(2, 50) -> tanh ->
Linear(50, 2)`` applied to ``y^3``, Tsit5 at rtol = atol = 1e-8, Adam 1e-2, the loss the
mean absolute error over every sample of the segment.

Unlike the endpoint toy, every intermediate state is data here: the regulariser can
only lower the NFE by smoothing dynamics the data pins down, so NFE falls while the
error rises (Pal et al. 2021, "Limitations").

    python benchmarks/nde_spiral.py --iterations 500 --seeds 0 1 2 --jobs 2
    python benchmarks/nde_spiral.py --quick
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

from _runs import by_method, run_jobs  # noqa: E402
from sciml.nde import NeuralODE  # noqa: E402
from sciml.solvers import solve_ode  # noqa: E402

DT = torch.float64
A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=DT)


def spiral_data(n: int = 400, t1: float = 10.0) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.linspace(0, t1, n, dtype=DT)
    y = solve_ode(lambda s, y: (y ** 3) @ A, torch.tensor([[2.0, 0.0]], dtype=DT), t, method="dopri5",
                  rtol=1e-10, atol=1e-10).ys[:, 0]
    return t, y


class CubicField(nn.Module):
    def __init__(self, width: int = 50):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, 2))

    def forward(self, t, y):
        return self.net(y ** 3)


def segments(y: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """``(length, len(starts), 2)``: the samples ``starts + k``."""
    return torch.stack([y[starts + k] for k in range(length)])


def run(method: str, seed: int, iterations: int, lam: float, tol: float = 1e-8, length: int = 20) -> dict:
    torch.set_num_threads(1)
    t, y = spiral_data()
    torch.manual_seed(seed)
    field = CubicField().double()
    kwargs = dict(rtol=tol, atol=tol)
    if method == "ernode":
        model = NeuralODE(field, regularize="error", **kwargs)
    elif method.startswith("local"):
        model = NeuralODE(field, local=method.split("_")[1], seed=seed, **kwargs)
    else:
        model = NeuralODE(field, **kwargs)
    g = torch.Generator().manual_seed(100 + seed)
    opt = torch.optim.Adam(field.parameters(), lr=1e-2)
    ts = t[:length] - t[0]
    start = time.perf_counter()
    for _ in range(iterations):
        starts = torch.randint(0, len(t) - length, (32,), generator=g)
        target = segments(y, starts, length)
        opt.zero_grad()
        loss = (model(target[0], ts) - target).abs().mean()
        if method != "vanilla":
            loss = loss + lam * model.regularization()
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - start
    test_model = NeuralODE(field, **kwargs).eval()
    target = segments(y, torch.linspace(0, len(t) - length - 1, 37).long(), length)
    with torch.no_grad():
        s = time.perf_counter()
        pred = test_model(target[0], ts)
        predict_s = time.perf_counter() - s
    return {"method": method, "seed": seed, "mae": float((pred - target).abs().mean()), "nfe": test_model.nfe,
            "train_s": train_s, "predict_s": predict_s}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="*", default=["vanilla", "ernode", "local_unbiased"])
    parser.add_argument("--lam", type=float, default=0.03, help="weight of the global regulariser")
    parser.add_argument("--local-lam", type=float, default=100.0, help="weight of the local regulariser")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--quick", action="store_true", help="CI-sized: 10 iterations, one seed, tol 1e-5")
    args = parser.parse_args(argv)
    iterations, seeds, tol = (10, [0], 1e-5) if args.quick else (args.iterations, args.seeds, 1e-8)
    jobs = [(m, s, iterations, args.local_lam if m.startswith("local") else args.lam, tol)
            for m in args.methods for s in seeds]
    rows = run_jobs(run, jobs, args.jobs)
    summary = by_method(rows, args.methods, ("mae", "nfe", "train_s", "predict_s"))
    print(f"cubic spiral, 37 test segments of 20 samples, tsit5 tol {tol:g}, {iterations} Adam steps, seeds {seeds}, "
          f"lambda {args.lam:g} (local {args.local_lam:g}); means over seeds")
    print(f"{'method':16s} {'test MAE':>9s} {'test NFE':>9s} {'vs vanilla':>10s} {'train s':>8s}")
    for m, s in summary.items():
        print(f"{m:16s} {s['mae']:9.4f} {s['nfe']:9.1f} {s['ratio']:10.3f} {s['train_s']:8.1f}   NFE per seed "
              f"{s['nfe_per_seed']}")
    return summary


if __name__ == "__main__":
    main()
