"""The convection failure mode of PINNs, and the Lagrangian PINN that avoids it.

``u_t + beta u_x = 0`` on ``[0, 2 pi)`` (periodic), ``t in [0, 1]``, ``u0 = sin x``; the
exact solution ``sin(x - beta t)`` from ``problems.Convection``. Errors are relative
Frobenius norms on the 256 x 100 grid (``x_i = 2 pi i / 256``, 100 times on [0, 1]).

Models (one process, float32, one thread):

* LPINN: ``sciml.pinn.LagrangianPINN`` (u 3 x 32, X 2 x 32, tanh, displacement form),
  64 x 20 label-time grid, MSE terms with initial weight 100, Adam (amsgrad) lr 1e-2;
* Eulerian PINN (Adam): ``sciml.pinn.EulerianPINN`` with the same embedding, width,
  optimiser and steps (1280 uniform collocation points + 63 initial points);
* Eulerian PINN (L-BFGS): Krishnapriyan et al.'s setting, 4 x 50 tanh, 1000 collocation
  + 256 initial points, MSE, L-BFGS (strong Wolfe) for 1000 iterations;
* DeepXDE: its ``TimePDE`` PINN, 4 x 50 tanh, periodic boundary condition, 1000 domain /
  256 initial / 80 boundary points, Adam lr 1e-3 for 5000 steps (pip install deepxde;
  skipped when missing).

Then a localised Gaussian pulse (sigma = pi / 16), whose snapshot matrix is high-rank in
the Eulerian frame but rank 1 (u) and 2 (X) in the Lagrangian one, and viscous Burgers
(nu = 0.01, u0 = sin x + C) against the pseudo-spectral ``problems.Burgers`` solution,
with both diffusion forms.

    python benchmarks/pinn_convection.py            # ~10 min on 2 cores
    python benchmarks/pinn_convection.py --quick    # CI-sized
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from problems import Burgers, Convection  # noqa: E402
from sciml.pinn import (EulerianPINN, LagrangianPINN, fit, grid, relative_frobenius,  # noqa: E402
                        snapshot_singular_values, uniform)

TWO_PI = 2 * math.pi
N_X, N_T = 256, 100


def _axes():
    x = torch.arange(N_X, dtype=torch.float64) * TWO_PI / N_X
    t = torch.linspace(0, 1, N_T, dtype=torch.float64)
    return x, t


def pulse(x: torch.Tensor, sigma: float = math.pi / 16) -> torch.Tensor:
    """A periodic Gaussian pulse centred at pi."""
    d = torch.remainder(x - math.pi, TWO_PI) - math.pi
    return torch.exp(-d ** 2 / (2 * sigma ** 2))


def run_lpinn(speed, u0, steps, nu=0.0, diffusion="label", seed=0):
    torch.manual_seed(seed)
    model = LagrangianPINN(speed=speed, nu=nu, width_u=32, depth_u=3, width_x=32, depth_x=2, diffusion=diffusion)
    terms, norm = model.terms(u0, preset="mse")
    points = {"interior": grid([(0.0, TWO_PI), (0.0, 1.0)], (64, 20), endpoint=(False, True)),
              "initial": torch.linspace(0, TWO_PI, 64)[:-1, None]}
    start = time.perf_counter()
    fit(model, terms, points, adam_steps=steps, lr=1e-2, amsgrad=True, norm=norm)
    x, t = _axes()
    return model, model.eulerian(x.float(), t.float(), x.float()), time.perf_counter() - start


def run_pinn_adam(residual, u0, steps, seed=0):
    torch.manual_seed(seed)
    model = EulerianPINN(residual, width=32, depth=3)
    points = {"interior": uniform([(0.0, TWO_PI), (0.0, 1.0)], 1280, generator=seed),
              "initial": torch.linspace(0, TWO_PI, 64)[:-1, None]}
    start = time.perf_counter()
    fit(model, model.terms(u0, initial_weight=100.0), points, adam_steps=steps, lr=1e-2, amsgrad=True)
    x, t = _axes()
    return model.predict(x.float(), t.float()), time.perf_counter() - start


def run_pinn_lbfgs(residual, u0, iterations, seed=0):
    torch.manual_seed(seed)
    model = EulerianPINN(residual, width=50, depth=4)
    points = {"interior": uniform([(0.0, TWO_PI), (0.0, 1.0)], 1000, generator=seed),
              "initial": torch.linspace(0, TWO_PI, 257)[:-1, None]}
    start = time.perf_counter()
    result = fit(model, model.terms(u0), points, adam_steps=0, lbfgs_steps=iterations, lbfgs_chunk=100)
    x, t = _axes()
    return model.predict(x.float(), t.float()), time.perf_counter() - start, result.stop_reason


def run_deepxde(beta, steps, seed=0):
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    try:
        import deepxde as dde
    except ImportError:
        return None, None
    dde.config.set_random_seed(seed)
    domain = dde.geometry.GeometryXTime(dde.geometry.Interval(0, TWO_PI), dde.geometry.TimeDomain(0, 1))

    def pde(xt, u):
        return dde.grad.jacobian(u, xt, i=0, j=1) + beta * dde.grad.jacobian(u, xt, i=0, j=0)

    bc = dde.icbc.PeriodicBC(domain, 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(domain, lambda xt: np.sin(xt[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(domain, pde, [bc, ic], num_domain=1000, num_boundary=80, num_initial=256)
    model = dde.Model(data, dde.nn.FNN([2] + [50] * 4 + [1], "tanh", "Glorot normal"))
    model.compile("adam", lr=1e-3)
    start = time.perf_counter()
    model.train(iterations=steps, display_every=max(steps, 1), verbose=0)
    seconds = time.perf_counter() - start
    x, t = _axes()
    X, T = np.meshgrid(x.numpy(), t.numpy())
    pred = model.predict(np.stack([X.ravel(), T.ravel()], 1)).reshape(N_T, N_X)
    return torch.from_numpy(pred.astype(np.float64)), seconds


def convection_reference(beta, u0_values):
    problem = Convection(beta=beta, resolution=N_X, n_times=N_T)
    return problem, problem.solve(u0_values[None].double())[0]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="CI-sized smoke run")
    parser.add_argument("--no-deepxde", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    betas = (30.0,) if args.quick else (1.0, 10.0, 30.0, 50.0)
    adam, lbfgs, dde_steps = (300, 50, 300) if args.quick else (3000, 1000, 5000)
    x, t = _axes()
    results = {"convection": {}}

    print(f"u_t + beta u_x = 0, u0 = sin x; relative Frobenius error on {N_X} x {N_T}; seconds of training")
    print(f"{'beta':>5} | {'LPINN':>17} | {'PINN (Adam)':>17} | {'PINN (L-BFGS)':>17} | {'DeepXDE (Adam)':>17}")
    for beta in betas:
        problem, ref = convection_reference(beta, torch.sin(x))
        residual = lambda u, ut, ux, uxx, p=problem: p.residual(ut, ux, uxx)  # noqa: E731
        row = {}
        _, pred, sec = run_lpinn(beta, torch.sin, adam)
        row["lpinn"] = (relative_frobenius(pred, ref), sec)
        pred, sec = run_pinn_adam(residual, torch.sin, adam)
        row["pinn_adam"] = (relative_frobenius(pred, ref), sec)
        pred, sec, reason = run_pinn_lbfgs(residual, torch.sin, lbfgs)
        row["pinn_lbfgs"] = (relative_frobenius(pred, ref), sec)
        row["lbfgs_stop"] = reason
        pred, sec = (None, None) if args.no_deepxde else run_deepxde(beta, dde_steps)
        row["deepxde"] = (relative_frobenius(pred, ref), sec) if pred is not None else (math.nan, math.nan)
        results["convection"][beta] = row
        cells = [f"{row[k][0]:9.2e} {row[k][1]:6.1f}s" for k in ("lpinn", "pinn_adam", "pinn_lbfgs", "deepxde")]
        print(f"{beta:5.0f} | " + " | ".join(cells) + f"   (L-BFGS stop: {reason})")

    # --- a localised pulse: the n-width grows with beta in the Eulerian frame only
    beta = 30.0
    problem, ref = convection_reference(beta, pulse(x))
    residual = lambda u, ut, ux, uxx, p=problem: p.residual(ut, ux, uxx)  # noqa: E731
    model, pred, sec = run_lpinn(beta, pulse, adam)
    e_lpinn = relative_frobenius(pred, ref)
    pred, sec_pinn = run_pinn_adam(residual, pulse, adam)
    e_pinn = relative_frobenius(pred, ref)
    xi = x.float()
    coords = torch.stack([xi.repeat(N_T), t.float().repeat_interleave(N_X)], 1)
    with torch.no_grad():
        u_lag, x_lag = (v.reshape(N_T, N_X).T for v in model(coords))
    count = lambda s: int((s > 1e-3).sum())  # noqa: E731
    ranks = {f"eulerian beta={b:g}": count(snapshot_singular_values(convection_reference(b, pulse(x))[1].T))
             for b in (1.0, 10.0, 30.0, 50.0)}
    ranks["lagrangian u (LPINN)"] = count(snapshot_singular_values(u_lag))
    ranks["lagrangian X (LPINN)"] = count(snapshot_singular_values(x_lag))
    results["pulse"] = {"lpinn": (e_lpinn, sec), "pinn_adam": (e_pinn, sec_pinn), "ranks": ranks}
    print(f"\nGaussian pulse (sigma = pi/16), beta = 30: LPINN {e_lpinn:.2e} ({sec:.0f} s), "
          f"Eulerian PINN (Adam) {e_pinn:.2e} ({sec_pinn:.0f} s)")
    print("singular values above 1e-3 of the snapshot matrix: " + ", ".join(f"{k}: {v}" for k, v in ranks.items()))

    # --- viscous Burgers, u0 = sin x + C, against the pseudo-spectral solution
    nu, shift = 0.01, 2.0
    burgers = Burgers(nu=nu, resolution=N_X, n_times=N_T, t_end=1.0, dt=1e-4, length=TWO_PI)
    ref = burgers.solve((torch.sin(x) + shift)[None])[0]

    def u0_burgers(v):
        return torch.sin(v) + shift

    results["burgers"] = {}
    line = []
    for diffusion in ("label", "chain_rule"):
        _, pred, sec = run_lpinn("burgers", u0_burgers, adam, nu=nu, diffusion=diffusion)
        results["burgers"][f"lpinn_{diffusion}"] = (relative_frobenius(pred, ref), sec)
        line.append(f"LPINN ({diffusion}) {relative_frobenius(pred, ref):.2e} ({sec:.0f} s)")
    pred, sec = run_pinn_adam(lambda u, ut, ux, uxx: ut + u * ux - nu * uxx, u0_burgers, adam)
    results["burgers"]["pinn_adam"] = (relative_frobenius(pred, ref), sec)
    line.append(f"Eulerian PINN (Adam) {relative_frobenius(pred, ref):.2e} ({sec:.0f} s)")
    print(f"\nBurgers nu = {nu}, u0 = sin x + {shift:g}, t in [0, 1]: " + "; ".join(line))
    return results


if __name__ == "__main__":
    main()
