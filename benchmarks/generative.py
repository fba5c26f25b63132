"""Generative dynamics: stochastic interpolants on 2-D toys (against torchcfm) and the
multi-marginal Schrödinger bridge with reference refinement.

(a) ``interpolants``: 8 Gaussians -> moons and N(0, I) -> checkerboard. Network: MLP on
``[x, t]``, 3 hidden layers of 64, SELU (torchcfm's 2-D toys); Adam 1e-3, batch 256,
``--steps`` steps (5000), every run through ``sciml.generative.fit_pairs`` (the Trainer),
torchcfm's through its own matcher with the same network, optimiser, batches and
number of steps. Methods:

* ``rf-indep`` / ``rf-ot``: linear interpolant with ``gamma = 0`` (rectified flow, I-CFM
  with sigma = 0), independent or minibatch exact-OT coupling (``ot.emd``);
* ``si-indep`` / ``si-ot``: two-sided linear interpolant ``gamma = sqrt(t (1 - t))``, the
  velocity ``b`` and the denoiser ``eta`` (two networks, one run), sampled by the ODE
  and by the forward SDE with ``eps = 0.5`` (``s = -eta / gamma`` on ``[1e-4, 1 - 1e-4]``);
* ``torchcfm-I`` / ``torchcfm-OT``: torchcfm's ``ConditionalFlowMatcher`` and
  ``ExactOptimalTransportConditionalFlowMatcher``, sigma = 0.

Metric: exact W2 (``ot.emd2`` on squared distances, square-rooted) between 2000 samples
and 2000 fresh target samples; the floor is W2 between two target samples. ODE: Heun
with 10, 50, 200 steps (and dopri5 1e-5); SDE: Euler–Maruyama with 50, 200, 1000 steps.

(b) ``bridges``: (i) drift recovery on the OU population ``A = [[-0.3, -1], [1, -0.3]]``,
``sigma = 0.3``, 400 particles per snapshot at ``t = 0..6``: relative Frobenius error of
the refined drift per iteration for the path estimator (linear and affine family) and
the pair estimator; held-out ``t = 3``: W2 of the bridge's marginal there, Brownian vs
refined. (ii) Repressilator, 10 snapshots of 100 cells on ``[0, 10]``, leave-one-out over
the 8 interior times, affine (mvOU) family, sigma 0.1: W2 and energy distance of the
held-out marginal for the Brownian bridge (iteration 0) and after refinement.

    python benchmarks/generative.py --jobs 2                 # both parts, CPU sizes
    python benchmarks/generative.py --part bridges
    python benchmarks/generative.py --quick                  # CI-sized

torchcfm is optional (``pip install --no-deps torchcfm``: its declared dependencies pull
another torch, torchdyn and lightning, none of which its matchers use).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _runs import run_jobs  # noqa: E402
from problems import OUPopulation, Repressilator  # noqa: E402
from problems.toy2d import checkerboard, eight_gaussians, moons, standard_normal  # noqa: E402
from sciml.generative import (Interpolant, MultiMarginalBridge, VelocityField, couple, denoiser_loss,  # noqa: E402
                              energy_distance, fit_pairs, sample_ode, sample_sde, velocity_loss, wasserstein)

TASKS = {"8gaussians->moons": (eight_gaussians, moons), "normal->checkerboard": (standard_normal, checkerboard)}
METHODS = ("rf-indep", "rf-ot", "si-indep", "si-ot", "torchcfm-I", "torchcfm-OT")
ODE_STEPS, SDE_STEPS = (10, 50, 200), (50, 200, 1000)


class _Pair(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.b, self.eta = VelocityField(2), VelocityField(2)


def _train_ours(method, source, target, steps, seed):
    coupling = "exact" if method.endswith("ot") else "independent"
    torch.manual_seed(seed)
    if method.startswith("rf"):
        model, it = VelocityField(2), Interpolant("linear", "zero")

        def loss(m, x0, x1, g):
            return velocity_loss(m, it, x0, couple(x0, x1, coupling, generator=g), generator=g)
    else:
        model, it = _Pair(), Interpolant("linear", "sqrt")

        def loss(m, x0, x1, g):
            x1 = couple(x0, x1, coupling, generator=g)
            return velocity_loss(m.b, it, x0, x1, generator=g) + denoiser_loss(m.eta, it, x0, x1, generator=g)
    fit_pairs(model, loss, source, target, steps, batch_size=256, lr=1e-3, seed=seed)
    return model, it


def _train_torchcfm(method, source, target, steps, seed):
    from torchcfm.conditional_flow_matching import (ConditionalFlowMatcher,
                                                    ExactOptimalTransportConditionalFlowMatcher)
    torch.manual_seed(seed)
    model = VelocityField(2)
    fm = ExactOptimalTransportConditionalFlowMatcher(0.0) if method.endswith("OT") else ConditionalFlowMatcher(0.0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i in range(steps):  # the same batches as fit_pairs draws
        g = torch.Generator().manual_seed(seed * 1_000_003 + i)
        x0, x1 = source(256, g), target(256, g)
        t, xt, ut = fm.sample_location_and_conditional_flow(x0, x1)
        opt.zero_grad()
        (model(t, xt) - ut).square().sum(-1).mean().backward()
        opt.step()
    return model, None


def interpolant_run(task: str, method: str, steps: int, seed: int, quick: bool) -> dict:
    torch.set_num_threads(1)
    source, target = TASKS[task]
    start = time.perf_counter()
    train = _train_torchcfm if method.startswith("torchcfm") else _train_ours
    model, it = train(method, source, target, steps, seed)
    seconds = time.perf_counter() - start
    g = torch.Generator().manual_seed(10_000 + seed)
    n = 500 if quick else 2000
    x0, test = source(n, g), target(n, g)
    row = {"task": task, "method": method, "seed": seed, "train_s": seconds,
           "floor": wasserstein(target(n, g), test)}
    b = model.b if it is not None and method.startswith("si") else model
    with torch.no_grad():
        for k in ODE_STEPS:
            row[f"ode{k}"] = wasserstein(sample_ode(b, x0, steps=k, method="heun"), test)
        row["dopri5"] = wasserstein(sample_ode(b, x0, rtol=1e-5, atol=1e-5), test)
        if method.startswith("si"):
            gamma = lambda t: it.coefficients(t)[2]  # noqa: E731
            for k in SDE_STEPS:
                out = sample_sde(model.b, x0, eps=0.5, eta=model.eta, gamma=gamma, steps=k, seed=seed)
                row[f"sde{k}"] = wasserstein(out, test)
    return row


def _have_torchcfm() -> bool:
    try:
        import torchcfm  # noqa: F401
    except ImportError:
        return False
    return True


def interpolants(args) -> list[dict]:
    methods = [m for m in args.methods if not m.startswith("torchcfm") or _have_torchcfm()]
    if len(methods) < len(args.methods):
        print("torchcfm is not installed (pip install --no-deps torchcfm): its rows are left out")
    jobs = [(task, m, args.steps, s, args.quick) for task in args.tasks for m in methods for s in args.seeds]
    rows = run_jobs(interpolant_run, jobs, args.jobs)
    cols = [f"ode{k}" for k in ODE_STEPS] + ["dopri5"] + [f"sde{k}" for k in SDE_STEPS]
    print(f"\n(a) W2 (exact, 2000 vs 2000 samples), median over seeds {args.seeds}, {args.steps} steps, 1 thread")
    print(f"{'task':21s} {'method':12s} " + " ".join(f"{c:>7s}" for c in cols) + "  train s  W2 per seed (ode200)")
    for task in args.tasks:
        mine = [r for r in rows if r["task"] == task]
        print(f"{task:21s} {'floor':12s} {statistics.median(r['floor'] for r in mine):7.3f}")
        for m in methods:
            rs = [r for r in mine if r["method"] == m]
            cells = [f"{statistics.median(r[c] for r in rs):7.3f}" if c in rs[0] else f"{'-':>7s}" for c in cols]
            print(f"{task:21s} {m:12s} " + " ".join(cells) +
                  f"  {statistics.median(r['train_s'] for r in rs):7.1f}  " +
                  " ".join(f"{r['ode200']:.3f}" for r in rs))
    return rows


def _ou_errors(estimator, intercept, n, seed, iterations):
    problem = OUPopulation()
    times, snaps = problem.snapshots(n, seed=seed)
    truth = problem.reference.A
    bridge = MultiMarginalBridge(times, snaps, problem.reference.sigma, intercept=intercept, estimator=estimator,
                                 seed=seed)
    bridge.fit(iterations, tol=0.0)
    drifts = [r["A"] for r in bridge.history[1:]] + [bridge.reference.A]
    return [float((A - truth).norm() / truth.norm()) for A in drifts]


def _held_out(times, snaps, k, sigma, intercept, iterations, seed):
    keep = [j for j in range(len(times)) if j != k]
    bridge = MultiMarginalBridge(times[keep], [snaps[j] for j in keep], sigma, intercept=intercept, seed=seed)
    g = torch.Generator().manual_seed(seed)
    bridge.fit(0)
    before = bridge.sample_marginal(float(times[k]), g)
    bridge.fit(iterations, tol=1e-3)
    after = bridge.sample_marginal(float(times[k]), g)
    return {"k": k, "w2_0": wasserstein(before, snaps[k]), "w2": wasserstein(after, snaps[k]),
            "ed_0": energy_distance(before, snaps[k]), "ed": energy_distance(after, snaps[k]),
            "iterations": len(bridge.history)}


def bridges(args) -> dict:
    torch.set_num_threads(1)
    n_ou = 100 if args.quick else 400
    iterations = 2 if args.quick else 5
    print(f"\n(b-i) OU drift recovery, {n_ou} particles per snapshot, t = 0..6, seeds {args.seeds}: "
          "relative Frobenius error of A per iteration (0 = Brownian reference)")
    estimators = [("paths", False), ("paths", True), ("pairs", False)]
    jobs = [(e, c, n_ou, s, iterations) for e, c in estimators for s in args.seeds]
    errors = run_jobs(_ou_errors, jobs, args.jobs)
    summary = {}
    for i, (e, c) in enumerate(estimators):
        per_seed = errors[i * len(args.seeds):(i + 1) * len(args.seeds)]
        mean = [statistics.mean(v) for v in zip(*per_seed)]
        name = f"{e} ({'affine' if c else 'linear'})"
        summary[name] = mean
        print(f"{name:17s} " + " ".join(f"{v:.3f}" for v in mean))
    problem = OUPopulation()
    times, snaps = problem.snapshots(n_ou, seed=args.seeds[0])
    ou = _held_out(times, snaps, 3, problem.reference.sigma, False, iterations, args.seeds[0])
    print(f"held-out t = 3: W2 Brownian {ou['w2_0']:.3f} -> refined {ou['w2']:.3f}; energy distance "
          f"{ou['ed_0']:.4f} -> {ou['ed']:.4f}")
    summary["ou_held_out"] = ou

    rep = Repressilator()
    times, snaps = rep.snapshots(40 if args.quick else 100, seed=args.seeds[0])
    interior = [4] if args.quick else list(range(1, len(times) - 1))
    start = time.perf_counter()
    rows = run_jobs(_held_out, [(times, snaps, k, 0.1, True, iterations, args.seeds[0]) for k in interior],
                    args.jobs)
    seconds = time.perf_counter() - start
    print(f"\n(b-ii) repressilator, leave-one-out over t_k = {[round(float(times[k]), 2) for k in interior]}, "
          f"affine reference, sigma 0.1 ({seconds:.0f} s)")
    print(f"{'held-out t':>10s} {'W2 Brownian':>12s} {'W2 refined':>11s} {'ED Brownian':>12s} {'ED refined':>11s}")
    for r in rows:
        print(f"{float(times[r['k']]):10.2f} {r['w2_0']:12.3f} {r['w2']:11.3f} {r['ed_0']:12.3f} {r['ed']:11.3f}")
    for key in ("w2_0", "w2", "ed_0", "ed"):
        values = [r[key] for r in rows]
        summary[f"repressilator_{key}"] = (statistics.mean(values), statistics.pstdev(values))
    s = summary
    print(f"{'mean +- sd':>10s} {s['repressilator_w2_0'][0]:6.2f}+-{s['repressilator_w2_0'][1]:4.2f} "
          f"{s['repressilator_w2'][0]:5.2f}+-{s['repressilator_w2'][1]:4.2f} "
          f"{s['repressilator_ed_0'][0]:6.2f}+-{s['repressilator_ed_0'][1]:4.2f} "
          f"{s['repressilator_ed'][0]:5.2f}+-{s['repressilator_ed'][1]:4.2f}")
    print("W2 = sqrt of the exact squared-cost OT (what TrajectoryNet's 'EMD' computes); "
          "ED = 2E|X-Y| - E|X-X'| - E|Y-Y'|")
    return summary


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("interpolants", "bridges", "all"), default="all")
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="CI-sized: 200 steps, one seed, small samples")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.seeds = 200, args.seeds[:1]
    print(f"torch {torch.__version__}, 1 thread per run, {args.jobs} run(s) in parallel")
    out = {}
    if args.part in ("interpolants", "all"):
        out["interpolants"] = interpolants(args)
    if args.part in ("bridges", "all"):
        out["bridges"] = bridges(args)
    return out


if __name__ == "__main__":
    main()
