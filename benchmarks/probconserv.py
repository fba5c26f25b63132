"""ProbConserv on the generalised porous medium family, advection and Burgers.

For each dataset an Attentive Neural Process is trained on context/target sets of
closed-form solutions (10 x 10 context points with stratified times, 10 x 10 uniform
targets; ``sciml.conserve.ContextTargetSet``), and a SoftC-ANP (the same with a PDE
residual penalty on the mean, weight 1). Test functions at fixed parameter values are
predicted on the 201-point x grid at the time of interest, and four methods compared:

* ANP: the unconstrained predictive moments (law of total variance over latent samples);
* SoftC-ANP: its own trained model, unconstrained at inference;
* HardC-ANP: the ANP with each sample's mean projected onto ``int u dx = b(t)``;
* ProbConserv-ANP: the ANP with the Gaussian update at ``sigma_G^2 = 0``.

Metrics per test parameter (mean over test functions): MSE of the mean, CE = trapezoid
mass of the mean minus ``b(t)`` (signed), LL = mean Gaussian log-density of the truth.
Also the Stefan shock position (first x where a posterior draw is <= 0) for u* = 0.6
(inside the training range) and 0.5 (outside), saved as a histogram.

    python benchmarks/probconserv.py                    # CPU sizes (~25 min on 2 cores)
    python benchmarks/probconserv.py --quick            # CI-sized
    python benchmarks/probconserv.py --full             # the paper's: 10,000 functions, 500 epochs (GPU)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from problems import PROBLEMS  # noqa: E402
from sciml.conserve import (AttentiveNP, ConservationConstraint, ContextTargetSet, conservation_error,  # noqa: E402
                            exact_values, log_likelihood, predict, shock_positions, softc_objective, train_anp)

DATASETS = {  # name: (test parameters, time of interest)
    "heat": ((1.0, 5.0), 0.5),
    "porous_medium": ((1.0, 3.0, 6.0), 0.5),
    "stefan": ((0.6, 0.5), 0.05),
    "advection": ((1.0, 3.0), 0.1),
    "burgers_ramp": ((1.0, 3.0), 0.5),
}
SIZES = {  # the CPU sizes use no attention dropout and a larger learning rate to train in minutes
    "quick": dict(n_train=200, epochs=2, batch=50, hidden=32, dropout=0.0, lr=1e-3, n_test=3, samples=10,
                  datasets=("heat", "stefan")),
    "cpu": dict(n_train=600, epochs=25, batch=50, hidden=64, dropout=0.0, lr=5e-4, n_test=10, samples=30,
                datasets=tuple(DATASETS)),
    "full": dict(n_train=10000, epochs=500, batch=250, hidden=128, dropout=0.1, lr=1e-4, n_test=50, samples=100,
                 datasets=tuple(DATASETS))}
METHODS = ("ANP", "SoftC-ANP", "HardC-ANP", "ProbConserv-ANP")


def evaluate(models: dict, problem, param: float, t_star: float, n_test: int, samples: int, seed: int):
    """Metrics of every method on ``n_test`` functions with parameter ``param``."""
    x = torch.linspace(*problem.x_range, 201, dtype=torch.float64)
    t = torch.tensor([t_star], dtype=torch.float64)
    test = ContextTargetSet(problem, n_test, seed=seed, params=torch.tensor([param]))
    mass = lambda tt: problem.mass(torch.tensor([param]), tt)[0]  # noqa: E731
    constraint = ConservationConstraint(mass)
    b = constraint.rhs(t)[:, 0]
    truth = exact_values(problem, torch.tensor([[param]]), torch.stack([t.expand(201), x], -1)[None])[0, :, 0]
    sums = {m: {"mse": 0.0, "ce": 0.0, "ll": 0.0} for m in METHODS}
    for i in range(n_test):
        item = test[i]
        runs = {"ANP": (models["anp"], "anp"), "SoftC-ANP": (models["softc"], "anp"),
                "HardC-ANP": (models["anp"], "hardc"), "ProbConserv-ANP": (models["anp"], "probconserv")}
        for name, (model, mode) in runs.items():
            p = predict(model, item["xc"], item["yc"], t, x, mode=mode, constraint=constraint, n_samples=samples,
                        seed=i)
            sums[name]["mse"] += float((p.mean[0] - truth).square().mean()) / n_test
            sums[name]["ce"] += float(conservation_error(p.mean[0], x, b)) / n_test
            sums[name]["ll"] += float(log_likelihood(p.mean[0], p.var[0], truth)) / n_test
    return sums


def stefan_shocks(model, problem, samples: int, out: Path):
    """Histogram of front positions at t = 0.05 for u* = 0.6 and 0.5 (ANP vs ProbConserv)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = torch.linspace(0, 1, 201, dtype=torch.float64)
    t = torch.tensor([0.05], dtype=torch.float64)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    summary = {}
    for ax, u_star in zip(axes, (0.6, 0.5)):
        item = ContextTargetSet(problem, 1, seed=7, params=torch.tensor([u_star]))[0]
        constraint = ConservationConstraint(lambda tt, u=u_star: problem.mass(torch.tensor([u]), tt)[0])
        _, alpha, _ = problem.constants(torch.tensor([u_star]))
        front = float(alpha[0] * 0.05 ** 0.5)
        for mode, color in (("anp", "C0"), ("probconserv", "C1")):
            p = predict(model, item["xc"], item["yc"], t, x, mode=mode, constraint=constraint, n_samples=samples,
                        full_covariance=True)
            pos = shock_positions(p.mean[0], p.cov[0], x, n_samples=500)
            summary[(u_star, mode)] = (float(pos.mean()), float(pos.std()), front)
            ax.hist(pos.numpy(), bins=30, alpha=0.6, color=color, label=f"{mode}: {pos.mean():.3f} +- {pos.std():.3f}")
        ax.axvline(front, color="k", ls="--", label=f"true front {front:.3f}")
        ax.set_title(f"Stefan u* = {u_star} ({'in' if u_star >= 0.55 else 'out of'} training range), t = 0.05")
        ax.set_xlabel("shock position")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "stefan_shock_positions.png", dpi=110)
    return summary


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true")
    group.add_argument("--full", action="store_true")
    parser.add_argument("--datasets", nargs="*", help="subset of " + ", ".join(DATASETS))
    parser.add_argument("--out", default="outputs/benchmarks/probconserv")
    args = parser.parse_args(argv)
    size = SIZES["quick" if args.quick else "full" if args.full else "cpu"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not torch.cuda.is_available():
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results = {}
    print(f"{size['n_train']} training functions, {size['epochs']} epochs, hidden {size['hidden']}, lr {size['lr']}; "
          f"{size['n_test']} test functions per parameter, {size['samples']} latent samples; 201 x points")
    print(f"{'dataset':14s} {'param':>5s} {'method':16s} {'MSE':>10s} {'CE':>10s} {'LL':>8s}")
    for name in args.datasets or size["datasets"]:
        problem = PROBLEMS[name]()
        params, t_star = DATASETS[name]
        train = ContextTargetSet(problem, size["n_train"], seed=0)
        models, seconds = {}, {}
        for key, objective in (("anp", None), ("softc", softc_objective(problem, 1.0))):
            torch.manual_seed(0)
            model = AttentiveNP(hidden=size["hidden"], latent=size["hidden"], dropout=size["dropout"])
            start = time.perf_counter()
            train_anp(model, train, epochs=size["epochs"], batch_size=size["batch"], lr=size["lr"],
                      objective=objective, progress=False, device=device)
            seconds[key] = time.perf_counter() - start
            models[key] = model.cpu().eval()
        results[name] = {"train_seconds": seconds}
        for i, param in enumerate(params):
            sums = evaluate(models, problem, param, t_star, size["n_test"], size["samples"], seed=100 + i)
            results[name][param] = sums
            for method, m in sums.items():
                print(f"{name:14s} {param:5g} {method:16s} {m['mse']:10.3e} {m['ce']:10.2e} {m['ll']:8.3f}")
        print(f"{'':14s} training: ANP {seconds['anp']:.0f} s, SoftC-ANP {seconds['softc']:.0f} s")
        if name == "stefan":
            shocks = stefan_shocks(models["anp"], problem, size["samples"], out)
            results["stefan_shocks"] = shocks
            for (u_star, mode), (mean, std, front) in shocks.items():
                print(f"{'':14s} shock u*={u_star} {mode:12s} {mean:.4f} +- {std:.4f} (true {front:.4f})")
    return results


if __name__ == "__main__":
    main()
