"""Data-generation throughput: Darcy samples per second, sciml's batched multigrid
vs ``scipy.sparse.linalg.spsolve`` per sample, and Navier–Stokes steps per second
against the bare FFT cost of a pseudo-spectral step (the FFTs a step cannot avoid:
per explicit stage, four inverse transforms for u, v, w_x, w_y and one forward
transform of the advection product; the ratio is the overhead of everything else).

Darcy: the FNO problem (``problems.Darcy``: 12/3 thresholded Gaussian random field,
``f = 1``, harmonic five-point finite volumes) on ``s x s`` nodes, boundary
included (``s - 1`` cells per side). Both solvers get the same float64 coefficient
fields and the same matrix (``sciml.pde.assemble_scipy``). sciml solves the whole
batch at once (conjugate gradients preconditioned by one Galerkin V-cycle, relative
residual 1e-10, set-up included); scipy assembles and factorises each sample
(SuperLU, assembly included). Printed: seconds per sample (median over repeats),
samples per second, the speed-up, and the largest relative difference between
the two solutions.

    python benchmarks/data_generation.py            # full table
    python benchmarks/data_generation.py --quick    # small sizes only
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import scipy.sparse.linalg as spla
import torch

from problems import Darcy, NavierStokes
from sciml.pde import assemble_scipy


def _median(fn, repeats: int) -> tuple[float, object]:
    out = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _spsolve_all(a: np.ndarray, forcing: float) -> np.ndarray:
    s = a.shape[-1]
    out = np.zeros_like(a)
    for i in range(a.shape[0]):
        matrix = assemble_scipy(a[i]).tocsc()
        out[i, 1:-1, 1:-1] = spla.spsolve(matrix, np.full(matrix.shape[0], forcing)).reshape(s - 2, s - 2)
    return out


def bench_darcy(sizes=(64, 128, 256), batch: int = 32, scipy_samples: int = 8, repeats: int = 3) -> list[dict]:
    rows = []
    for s in sizes:
        problem = Darcy(resolution=s)
        a = problem.sample_inputs(batch, generator=torch.Generator().manual_seed(s)).to(torch.float64)
        t_mg, u_mg = _median(lambda: problem.solve(a), repeats)
        a_np = a[:scipy_samples].numpy()
        t_sp, u_sp = _median(lambda: _spsolve_all(a_np, problem.forcing), repeats)
        per_mg, per_sp = t_mg / batch, t_sp / scipy_samples
        diff = (np.abs(u_mg[:scipy_samples].numpy() - u_sp).max(axis=(1, 2)) / np.abs(u_sp).max(axis=(1, 2))).max()
        rows.append({"nodes": s, "batch": batch, "sciml_s_per_sample": per_mg, "scipy_s_per_sample": per_sp,
                     "sciml_samples_per_s": 1 / per_mg, "scipy_samples_per_s": 1 / per_sp,
                     "speedup": per_sp / per_mg, "max_rel_diff": float(diff)})
    return rows


def bench_navier_stokes(sizes=((64, 16), (256, 4)), repeats: int = 5, steps: int = 10) -> list[dict]:
    """Seconds per IMEX step (whole batch) and the bare FFT time of a pseudo-spectral step:
    per explicit stage four inverse real FFTs (u, v, w_x, w_y) and one forward FFT (the
    product), on the same shapes, float64."""
    rows = []
    for s, batch in sizes:
        for stepper, stages in (("cnrk2", 2), ("cnrk4", 5)):
            problem = NavierStokes(resolution=s, stepper=stepper)
            w_hat = problem.spectral.fft(problem.sample_inputs(batch, generator=torch.Generator().manual_seed(0))
                                         .to(torch.float64))
            step = problem.stepper_for(w_hat)

            def run():
                w = w_hat
                for _ in range(steps):
                    w = step(w)
                return w

            t_step, _ = _median(run, repeats)
            field = torch.randn(batch, s, s, dtype=torch.float64)
            spectrum = torch.fft.rfft2(field)

            def ffts():
                for _ in range(steps * stages):
                    for _ in range(4):
                        torch.fft.irfft2(spectrum, s=(s, s))
                    torch.fft.rfft2(field)

            t_fft, _ = _median(ffts, repeats)
            rows.append({"grid": s, "batch": batch, "stepper": stepper, "steps_per_s": batch * steps / t_step,
                         "ms_per_step": 1e3 * t_step / steps, "fft_ms_per_step": 1e3 * t_fft / steps,
                         "ratio": t_step / t_fft})
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (scipy's SuperLU uses one)")
    parser.add_argument("--skip-navier-stokes", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes = (32, 64) if args.quick else (64, 128, 256)
    repeats = 1 if args.quick else args.repeats
    print(f"Darcy (FNO 12/3, f = 1), float64, {args.threads} thread(s); seconds per sample, medians of {repeats}")
    print(f"{'nodes':>7} {'batch':>5} {'sciml s/sample':>15} {'scipy s/sample':>15} {'sciml /s':>9} "
          f"{'scipy /s':>9} {'speed-up':>9} {'max rel diff':>13}")
    for r in bench_darcy(sizes, batch=8 if args.quick else 32, scipy_samples=4 if args.quick else 8,
                         repeats=repeats):
        print(f"{r['nodes']:>5}^2 {r['batch']:>5} {r['sciml_s_per_sample']:>15.4f} {r['scipy_s_per_sample']:>15.4f} "
              f"{r['sciml_samples_per_s']:>9.1f} {r['scipy_samples_per_s']:>9.1f} {r['speedup']:>8.1f}x "
              f"{r['max_rel_diff']:>13.1e}")
    if args.skip_navier_stokes:
        return
    print()
    print("Navier-Stokes (vorticity, de-aliased pseudo-spectral IMEX, float64): one step of the whole batch")
    print(f"{'grid':>7} {'batch':>5} {'stepper':>8} {'sample-steps/s':>15} {'ms/step':>9} {'bare FFT ms':>12} "
          f"{'step / FFT':>11}")
    sizes = ((32, 4),) if args.quick else ((64, 16), (256, 4))
    for r in bench_navier_stokes(sizes, repeats=repeats if args.quick else 5, steps=5 if args.quick else 10):
        print(f"{r['grid']:>5}^2 {r['batch']:>5} {r['stepper']:>8} {r['steps_per_s']:>15.0f} {r['ms_per_step']:>9.2f} "
              f"{r['fft_ms_per_step']:>12.2f} {r['ratio']:>10.2f}x")


if __name__ == "__main__":
    main()
