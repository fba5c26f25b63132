"""sciml vs torchsde on a neural SDE: same model, same initial states, one process.

Neural SDE: 8-dim state, drift MLP 8 -> 64 -> 64 -> 8 (tanh), diagonal diffusion
0.2 * sigmoid(linear 8 -> 8); Itô; Euler–Maruyama and Milstein with 100 and 1000
fixed steps on [0, 1]; batch 1 and 256; forward (no_grad) and forward+backward
(backprop through the solver). Each library draws its own Brownian motion
(torchsde's BrownianInterval; sciml's default, the exact increments on its own grid
drawn at once), as a user would.

Printed: median wall times, the speed-up torchsde/sciml and the overhead ratio
wall / (steps x cost of one f+g evaluation) (Milstein's extra derivative of g is
solver work and counts as overhead).

    python benchmarks/sde_vs_torchsde.py            # full table
    python benchmarks/sde_vs_torchsde.py --quick    # one small case
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sciml.solvers import sdeint


class NeuralSDE(torch.nn.Module):
    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, dim: int = 8, width: int = 64):
        super().__init__()
        self.drift = torch.nn.Sequential(torch.nn.Linear(dim, width), torch.nn.Tanh(), torch.nn.Linear(width, width),
                                         torch.nn.Tanh(), torch.nn.Linear(width, dim))
        self.diffusion = torch.nn.Linear(dim, dim)

    def f(self, t, y):
        return self.drift(y)

    def g(self, t, y):
        return 0.2 * torch.sigmoid(self.diffusion(y))


def median_times(fns, repeats: int) -> list[float]:
    """Median wall time of each function, timed in alternation."""
    for fn in fns:
        fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def call_cost(fn, calls: int = 100, rounds: int = 7) -> float:
    """Median over rounds of the mean time of ``calls`` back-to-back calls (a tiny
    function timed once between long solves would be measured cold)."""
    fn()
    means = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        means.append((time.perf_counter() - t0) / calls)
    return statistics.median(means)


def run_case(batch: int, steps: int, method: str, backward: bool, repeats: int) -> dict:
    import torchsde

    torch.manual_seed(0)
    sde = NeuralSDE()
    y0 = torch.randn(batch, 8)
    ts = torch.tensor([0.0, 1.0])
    dt = 1.0 / steps

    def solve(lib):
        def go():
            y = y0.clone().requires_grad_(backward)
            with torch.set_grad_enabled(backward):
                if lib == "sciml":
                    ys = sdeint(sde, y, ts, method=method, dt=dt)
                else:
                    ys = torchsde.sdeint(sde, y, ts, method=method, dt=dt)  # its default BrownianInterval
                if backward:
                    ys[-1].square().sum().backward()
        return go

    def one_call():
        if not backward:
            with torch.no_grad():
                sde.f(ts[0], y0), sde.g(ts[0], y0)
            return
        y = y0.clone().requires_grad_(True)
        (sde.f(ts[0], y).sum() + sde.g(ts[0], y).sum()).backward()

    walls = median_times([solve("sciml"), solve("torchsde")], repeats)
    call = call_cost(one_call)
    return {"sciml": walls[0], "torchsde": walls[1], "call": call,
            "ovh_sciml": walls[0] / (steps * call), "ovh_torchsde": walls[1] / (steps * call)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = [(256, 100, "euler", False)] if args.quick else [
        (b, n, m, bw) for m in ("euler", "milstein") for b in (1, 256) for n in (100, 1000) for bw in (False, True)
    ]
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, neural SDE d=8, float32, Itô, diagonal noise")
    header = (f"{'method':>8} {'batch':>5} {'steps':>5} {'mode':>7} | {'sciml ms':>9} {'torchsde ms':>11} "
              f"{'speed-up':>8} | {'ovh sciml':>9} {'ovh tsde':>8}")
    print(header)
    print("-" * len(header))
    for batch, steps, method, backward in cases:
        r = run_case(batch, steps, method, backward, 3 if args.quick else args.repeats)
        print(f"{method:>8} {batch:>5} {steps:>5} {'fwd+bwd' if backward else 'fwd':>7} | {r['sciml'] * 1e3:>9.2f} "
              f"{r['torchsde'] * 1e3:>11.2f} {r['torchsde'] / r['sciml']:>7.1f}x | {r['ovh_sciml']:>9.2f} "
              f"{r['ovh_torchsde']:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
