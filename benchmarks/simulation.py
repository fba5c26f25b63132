"""Plugging trained operators into simulations: rollout cost and error, and inverse
problems through the solver or a surrogate.

Part 1, Navier–Stokes (``problems.NavierStokes``: nu = 1e-3, FNO forcing, GRF initial
vorticity), states on 64^2, reference solver on 256^2 (dt = 1e-3) restricted to 64^2 by
subsampling, 10-second rollouts of 4 unseen initial conditions. Steppers over dt = 1:

* solver 256^2 (the reference itself: its cost), solver 64^2 and 32^2 (dt = 5e-3, the
  32^2 one Fourier-interpolated back to 64^2);
* operator: an FNO ``w(t) -> w(t + 1)`` trained by ``sciml train`` on step pairs of 100
  64^2 solver trajectories (``data.step_lag=1``), loaded with ``load_stepper``;
* hybrid: the 32^2 solver step plus a learned correction (an FNO keeping modes to s/4,
  trained on the pairs (coarse step, fine - coarse) of the same trajectories);
* parareal: the operator as coarse propagator refined by the 64^2 solver.

Part 2, inverse problems (MAP estimates by L-BFGS, :func:`sciml.sim.invert`):

* Darcy 32^2: the coefficient (3/12, a thresholded GRF) from u at every 2nd node (noise
  1e-4, about 1% of max u), latent GRF with the data's prior, ``a = 3 + 9 sigmoid(psi /
  0.1)``; through the solver (``Darcy.solve``, adjoint gradients) and through an FNO
  surrogate trained on 1000 solver samples; the surrogate's estimate is also checked by
  the solver (its true data misfit) and used as the start of 50 solver iterations.
* Navier–Stokes 64^2: the initial vorticity from w(t = 1) at every 4th node (noise 0.01),
  latent GRF with the initial-condition prior; through 200 solver steps (backpropagation
  through the rollout) and through one call of the trained stepper.

    python benchmarks/simulation.py            # about 25 minutes on 2 CPU cores
    python benchmarks/simulation.py --viscosity 1e-5 --data-resolution 128 --no-inverse
                                               # under-resolved 32^2: where the hybrid helps (~40 min)
    python benchmarks/simulation.py --quick    # CI-sized smoke run (32^2, tiny training)

Generated data and runs go to ``outputs/benchmark_simulation_*`` (reruns reuse them).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from problems import Darcy, NavierStokes
from sciml.data import write_fields
from sciml.pde import SpectralGrid, grf_from_noise
from sciml.app import load, load_config, load_stepper, train
from sciml.sim import (CorrectedStepper, ResampledStepper, Simulation, correction_pairs, grid_observation, invert,
                       parareal, relative_error)

ROOT = Path(__file__).resolve().parents[1]


def settings(quick: bool) -> dict:
    if quick:
        return {"s": 32, "s_ref": 64, "coarse": 16, "n_traj": 6, "epochs": 2, "n_test": 2, "t_end": 4,
                "darcy_n": 64, "darcy_epochs": 2, "inv_iters": 15, "ns_inv_iters": 5, "modes": 8, "width": 12}
    return {"s": 64, "s_ref": 256, "coarse": 32, "n_traj": 100, "epochs": 30, "n_test": 4, "t_end": 10,
            "darcy_n": 1000, "darcy_epochs": 30, "inv_iters": 200, "ns_inv_iters": 100, "modes": 12, "width": 32}


def _run_config(out_dir, train_file, extra_data, cfg, epochs, normalize_outputs="none", modes=None, lr=3e-3,
                weight_decay=1e-4, batch_size=20):
    return load_config(None, base={
        "seed": 0, "out_dir": str(out_dir),
        "data": {"format": "h5", "train": str(train_file), "val_fraction": 0.1, "normalize_inputs": "none",
                 "normalize_outputs": normalize_outputs, **extra_data},
        "model": {"name": "fno", "n_modes": [modes or cfg["modes"]] * 2, "hidden_channels": cfg["width"]},
        "optimizer": {"name": "adam", "lr": lr, "weight_decay": weight_decay},
        "scheduler": {"name": "cosine"}, "loss": {"name": "l2"}, "metrics": ["l2"],
        "trainer": {"max_epochs": epochs, "batch_size": batch_size, "progress": False}})


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


# --------------------------------------------------------------------------- part 1
def navier_stokes_rollouts(cfg: dict, work: Path) -> dict:
    s, T, nu = cfg["s"], cfg["t_end"], cfg["viscosity"]
    problem = NavierStokes(resolution=s, t_end=T, n_times=T + 1, dt=5e-3, viscosity=nu)
    # training trajectories: solved on data_resolution^2, subsampled to s^2
    source = NavierStokes(resolution=s, solver_resolution=cfg["data_resolution"], t_end=T, n_times=T + 1,
                          dt=5e-3 * s / cfg["data_resolution"], viscosity=nu)
    data = work / f"ns{s}_train.h5"
    _, t_data = _timed(lambda: data.exists() or source.generate(cfg["n_traj"], data, seed=0, progress=False))
    # the operator: w(t) -> w(t + 1) on step pairs, trained and checkpointed by `sciml train`
    run_op = work / f"ns{s}_stepper"
    _, t_op = _timed(lambda: train(_run_config(run_op, data, {"step_lag": 1}, cfg, cfg["epochs"])))
    operator = load_stepper(run_op / "latest.pt")
    # the hybrid: a coarse solver step plus a learned correction
    coarse = ResampledStepper(NavierStokes(resolution=cfg["coarse"], t_end=T, n_times=T + 1, dt=5e-3, viscosity=nu)
                              .solver_stepper(), (cfg["coarse"],) * 2)
    import h5py

    with h5py.File(data) as f:
        paths = torch.from_numpy(f["outputs"][()]).double()  # (n, T+1, s, s)
    stepped, targets = correction_pairs(coarse, paths)
    pairs = write_fields(work / f"ns{s}_corrections.h5", stepped[:, 0].float(), targets[:, 0].float(),
                         grid={"x": problem.grid()["x"], "y": problem.grid()["y"]})
    # the correction lives in the modes the coarse grid lacks: the FNO keeps modes up to s/4,
    # lr 1e-3, batch 10, no weight decay. The zero correction is a plateau of the relative
    # loss: with 12 modes, lr 3e-3 and weight decay 1e-4 (the operator's settings), or
    # with these modes and weight decay 1e-4, training stayed at relative L2 1.0.
    run_corr = work / f"ns{s}_correction_b10"
    _, t_corr = _timed(lambda: train(_run_config(run_corr, pairs, {}, cfg, cfg["epochs"], "scalar", modes=s // 2,
                                                 lr=1e-3, weight_decay=0.0, batch_size=10)))
    correction = load(run_corr / "latest.pt")
    hybrid = CorrectedStepper(coarse, correction, name=f"solver {cfg['coarse']}^2 + correction")

    # unseen initial conditions and the fine reference
    fine_problem = NavierStokes(resolution=s, solver_resolution=cfg["s_ref"], t_end=T, n_times=T + 1, dt=1e-3,
                                viscosity=nu)
    w0_fine = fine_problem.sample_inputs(cfg["n_test"], generator=torch.Generator().manual_seed(10_000)).double()
    stride = cfg["s_ref"] // s
    w0 = w0_fine[:, ::stride, ::stride].unsqueeze(1)
    reference = Simulation(fine_problem.solver_stepper()).run(w0_fine.unsqueeze(1), T)
    ref_states = reference.states[..., ::stride, ::stride]
    ref_spectrum = problem.energy_spectrum(ref_states[-1, :, 0])[1].mean(0)

    steppers = {f"solver {s}^2": problem.solver_stepper(), f"solver {cfg['coarse']}^2": coarse,
                "operator (FNO)": operator, "hybrid": hybrid}
    rows = [{"method": f"solver {cfg['s_ref']}^2 (reference)", "seconds": reference.wall_time, "final": 0.0,
             "mean": 0.0, "spectrum": 0.0}]
    for name, stepper in steppers.items():
        r = Simulation(stepper).run(w0, T, reference=ref_states)
        spec = problem.energy_spectrum(r.states[-1, :, 0])[1].mean(0)
        k = min(len(spec), len(ref_spectrum), s // 3)
        spectrum_gap = (spec[:k] - ref_spectrum[:k]).abs().sum() / ref_spectrum[:k].sum()
        rows.append({"method": name, "seconds": r.wall_time, "final": float(r.diagnostics["error"][-1].mean()),
                     "mean": float(r.diagnostics["error"][1:].mean()), "spectrum": float(spectrum_gap),
                     "status": r.status})
    pr, t_pr = _timed(lambda: parareal(operator, problem.solver_stepper(), w0, T, tol=1e-6))
    err = torch.stack([relative_error(pr.states[i], ref_states[i]) for i in range(1, T + 1)])
    rows.append({"method": f"parareal (FNO + solver {s}^2, {pr.iterations} it.)", "seconds": t_pr,
                 "final": float(err[-1].mean()), "mean": float(err.mean()), "spectrum": float("nan")})
    return {"rows": rows, "train_seconds": {"data": t_data, "operator": t_op, "correction": t_corr},
            "parareal_changes": pr.changes, "stepper": operator, "problem": problem}


# --------------------------------------------------------------------------- part 2
def _darcy_transform(s):
    def transform(z):
        psi = grf_from_noise(z, (s, s), 2.0, 3.0, boundary="neumann", zero_mean=True)
        return 3.0 + 9.0 * torch.sigmoid(psi / 0.1)
    return transform


def darcy_inverse(cfg: dict, work: Path) -> dict:
    s = 32
    problem = Darcy(resolution=s, tol=1e-8)
    data = work / "darcy32_train.h5"
    if not data.exists():  # reruns reuse the data, and `train` resumes finished runs at once
        problem.generate(cfg["darcy_n"], data, seed=0, progress=False)
    run = work / "darcy32_fno"
    base = _run_config(run, data, {}, cfg, cfg["darcy_epochs"], "scalar")
    base.data.normalize_inputs = "pointwise"
    _, t_train = _timed(lambda: train(base))
    surrogate = load(run / "latest.pt")

    def through_surrogate(a):  # the float32 model inside a float64 inversion
        return surrogate(a.float().unsqueeze(1))[:, 0].to(a.dtype)

    g = torch.Generator().manual_seed(77)
    truth = problem.sample_inputs(cfg["n_test"], generator=g).double()
    observe = grid_observation(2, 1)
    y = observe(problem.solve(truth))
    y = y + 1e-4 * torch.randn(y.shape, generator=g, dtype=y.dtype)
    transform = _darcy_transform(s)
    z0 = torch.zeros(cfg["n_test"], s, s, dtype=torch.float64)
    common = {"observe": observe, "transform": transform, "noise_std": 1e-4, "truth": truth, "optimizer": "lbfgs",
              "lr": 1.0}
    solver = invert(problem.solve, y, z0, steps=cfg["inv_iters"], **common)
    sur = invert(through_surrogate, y, z0, steps=cfg["inv_iters"], **common)
    refined = invert(problem.solve, y, sur.latent, steps=max(1, cfg["inv_iters"] // 4), **common)

    def data_misfit(a):  # the true relative data misfit of an estimate, by the solver
        with torch.no_grad():
            return float(((observe(problem.solve(a)) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean())

    rows = []
    for name, r, seconds in (("solver (adjoint)", solver, solver.wall_time), ("surrogate (FNO)", sur, sur.wall_time),
                             ("surrogate, then solver", refined, sur.wall_time + refined.wall_time)):
        rows.append({"method": name, "error": r.error, "misfit": data_misfit(r.estimate), "seconds": seconds,
                     "evaluations": r.evaluations})
    return {"rows": rows, "train_seconds": t_train, "noise_misfit": 1e-4 * (y[0].numel() ** 0.5) /
            float(y.flatten(1).norm(dim=1).mean())}


def navier_stokes_inverse(cfg: dict, ns: dict) -> dict:
    problem, stepper = ns["problem"], ns["stepper"]
    s = cfg["s"]
    prior = {"alpha": problem.alpha, "tau": problem.tau, "sigma": problem.tau ** (problem.alpha - 1)}

    def transform(z):
        return grf_from_noise(z, (s, s), prior["alpha"], prior["tau"], prior["sigma"], zero_mean=True)

    solver = problem.solver_stepper()  # one time unit

    def through_solver(w0):
        return solver(w0.unsqueeze(1))[:, 0]

    def through_surrogate(w0):
        return stepper(w0.unsqueeze(1))[:, 0]

    g = torch.Generator().manual_seed(5)
    z_true = torch.randn(cfg["n_test"], s, s, generator=g, dtype=torch.float64)
    truth = transform(z_true)
    observe = grid_observation(4, 2)
    with torch.no_grad():
        y = observe(through_solver(truth))
    y = y + 0.01 * torch.randn(y.shape, generator=g, dtype=y.dtype)
    z0 = torch.zeros_like(z_true)
    common = {"observe": observe, "transform": transform, "noise_std": 0.01, "truth": truth, "optimizer": "lbfgs",
              "lr": 1.0, "steps": cfg["ns_inv_iters"]}
    rows = []
    for name, fwd in (("solver (backprop, 200 steps)", through_solver), ("surrogate (1 FNO call)", through_surrogate)):
        r = invert(fwd, y, z0, **common)
        rows.append({"method": name, "error": r.error, "seconds": r.wall_time, "evaluations": r.evaluations})
    return {"rows": rows}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", default=None, help="folder for generated data and runs (default: outputs/...)")
    parser.add_argument("--viscosity", type=float, default=1e-3, help="Navier-Stokes nu (default: %(default)s)")
    parser.add_argument("--data-resolution", type=int, default=None,
                        help="solver grid of the training trajectories (default: the state grid)")
    parser.add_argument("--no-inverse", action="store_true", help="the rollouts only")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = settings(args.quick)
    cfg["viscosity"] = args.viscosity
    cfg["data_resolution"] = args.data_resolution or cfg["s"]
    default = f"benchmark_simulation{'_quick' if args.quick else ''}_nu{args.viscosity:g}_data{cfg['data_resolution']}"
    work = Path(args.work or ROOT / "outputs" / default)
    work.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; work folder {work}")

    ns = navier_stokes_rollouts(cfg, work)
    s, T = cfg["s"], cfg["t_end"]
    print(f"\nNavier-Stokes nu = {cfg['viscosity']:g}, {s}^2 from a {cfg['s_ref']}^2 reference, {T}-s rollouts of "
          f"{cfg['n_test']} unseen initial conditions; training data from {cfg['data_resolution']}^2 solves "
          f"(data {ns['train_seconds']['data']:.0f} s, operator "
          f"{ns['train_seconds']['operator']:.0f} s, correction {ns['train_seconds']['correction']:.0f} s)")
    print(f"{'stepper':<44}{'seconds':>9}{'x ref':>8}{'err t=' + str(T):>11}{'mean err':>10}{'spectrum':>10}")
    ref_seconds = ns["rows"][0]["seconds"]
    for r in ns["rows"]:
        print(f"{r['method']:<44}{r['seconds']:>9.3f}{ref_seconds / r['seconds']:>8.1f}{r['final']:>11.2e}"
              f"{r['mean']:>10.2e}{r['spectrum']:>10.1e}")
    print(f"parareal max relative change per iteration: {', '.join(f'{c:.1e}' for c in ns['parareal_changes'])}")
    print("'spectrum': sum_k |E(k) - E_ref(k)| / sum_k E_ref(k) over k < s/3 at the final time (batch-mean spectra); "
          "seconds: the rollout of the batch")

    result = {"navier_stokes": ns["rows"], "parareal_changes": ns["parareal_changes"]}
    if args.no_inverse:
        return result
    darcy = darcy_inverse(cfg, work)
    print(f"\nInverse Darcy 32^2, {cfg['n_test']} coefficients from u at every 2nd node (noise 1e-4), L-BFGS "
          f"{cfg['inv_iters']} iterations (surrogate trained in {darcy['train_seconds']:.0f} s)")
    print(f"{'gradients through':<28}{'rel. L2 error of a':>20}{'data misfit (solver)':>22}{'seconds':>9}{'evals':>7}")
    for r in darcy["rows"]:
        print(f"{r['method']:<28}{r['error']:>20.3f}{r['misfit']:>22.2e}{r['seconds']:>9.1f}{r['evaluations']:>7}")
    print(f"(the noise alone gives a relative misfit of about {darcy['noise_misfit']:.2e})")

    nsi = navier_stokes_inverse(cfg, ns)
    print(f"\nInverse Navier-Stokes {s}^2: initial vorticity from w(t=1) at every 4th node (noise 0.01), L-BFGS "
          f"{cfg['ns_inv_iters']} iterations")
    print(f"{'gradients through':<32}{'rel. L2 error of w0':>20}{'seconds':>9}{'evals':>7}")
    for r in nsi["rows"]:
        print(f"{r['method']:<32}{r['error']:>20.3f}{r['seconds']:>9.1f}{r['evaluations']:>7}")
    return {**result, "darcy_inverse": darcy["rows"], "ns_inverse": nsi["rows"]}


if __name__ == "__main__":
    main()
