"""Spectral-Refiner on forced Navier–Stokes: solver vs SFNO vs SFNO + refinement vs an
autoregressive FNO-2D, on the same test windows.

Data: ``problems.NavierStokes`` with the FNO forcing, ``nu = 1e-3``, GRF initial
vorticity, IMEX CN-Heun at ``dt = 1e-3``, a warm-up, then frames every 0.2 time units.
Training uses the solver trajectories subsampled to ``train_res``; the test windows
are at the solver resolution (zero-shot super-resolution for both operators), with the
solver's own trajectory as the reference.

Methods, for the same test windows (``T_in`` frames in, ``T_out`` frames out):

* solver: the classical IMEX solver from the last input frame, at the reference
  resolution (error 0 by definition) and on coarser grids (started from the
  Fourier-truncated last frame, compared after Fourier interpolation), so that its
  cost at a given accuracy can be read off;
* SFNO: stage 1 (:func:`sciml.operators.train_sfno`), inference;
* SFNO + refine: stage 2 (:func:`sciml.operators.refine`) per trajectory;
* FNO-2D roll-out: neuraloperator's ``FNO`` mapping the last ``T_in`` frames (channels)
  to the next one, trained one-step through the same Trainer for the same epochs,
  with about the SFNO's parameter count, rolled out ``T_out`` steps.

Errors are relative ``L2(0, T; L2)`` over the output window (mean over windows); times
are medians of repeated runs, per window batch.

    python benchmarks/refiner.py                 # CPU scale: 32^2 training, 64^2 tests (~10 min)
    python benchmarks/refiner.py --quick         # CI-sized smoke run
    python benchmarks/refiner.py --full          # the paper's scale: 256^2 solver, 64^2
                                                 # training (1152 trajectories), 256^2 tests; needs a GPU
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from problems.navier_stokes import NavierStokes  # noqa: E402
from sciml.operators import SFNO, BochnerL2, TrajectoryWindows, fno, refine, train_sfno  # noqa: E402
from sciml.train import Trainer  # noqa: E402
from sciml.train.losses import LpLoss  # noqa: E402

SETTINGS = {
    # solver grid, training grid, trajectories, warm-up, frames per trajectory, frame spacing,
    # T_in, T_out, SFNO modes/width/latent, epochs, test windows refined, refinement steps
    "quick": dict(solver_res=32, train_res=16, n_train=6, n_test=2, warmup=0.0, n_frames=31, dt=2e-3,
                  t_in=10, t_out=10, modes=(4, 4, 4), width=8, latent=6, epochs=2, n_refine=1, iterations=20,
                  stride=4, coarse=(16,)),
    "cpu": dict(solver_res=64, train_res=32, n_train=32, n_test=4, warmup=5.0, n_frames=61, dt=1e-3,
                t_in=10, t_out=20, modes=(8, 8, 5), width=12, latent=10, epochs=5, n_refine=8, iterations=200,
                stride=2, coarse=(32, 16)),
    "full": dict(solver_res=256, train_res=64, n_train=1152, n_test=16, warmup=30.0, n_frames=101, dt=1e-3,
                 t_in=10, t_out=40, modes=(12, 12, 5), width=20, latent=10, epochs=10, n_refine=16, iterations=100,
                 stride=1, coarse=(128, 64)),
}
FRAME_DT = 0.2


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def generate(cfg: dict, cache: Path, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Training and test trajectories ``(n, n_frames, s, s)`` at the solver resolution
    (float64), cached in ``cache`` (atomic writes)."""
    t_end = FRAME_DT * (cfg["n_frames"] - 1)
    problem = NavierStokes(resolution=cfg["solver_res"], viscosity=1e-3, warmup=cfg["warmup"], t_end=t_end,
                           n_times=cfg["n_frames"], dt=cfg["dt"])
    out = []
    for name, n, seed in (("train", cfg["n_train"], 0), ("test", cfg["n_test"], 1)):
        path = cache / f"ns{cfg['solver_res']}_{name}_{n}_w{cfg['warmup']:g}_f{cfg['n_frames']}_seed{seed}.pt"
        if path.is_file():
            out.append(torch.load(path, weights_only=True))
            continue
        w0 = problem.sample_inputs(n, torch.Generator().manual_seed(seed)).to(device, torch.float64)
        start = time.perf_counter()
        chunks = [problem.solve(chunk).cpu() for chunk in w0.split(64)]
        w = torch.cat(chunks)
        print(f"generated {n} {name} trajectories at {cfg['solver_res']}^2 in {time.perf_counter() - start:.0f} s")
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(w, tmp)
        os.replace(tmp, path)
        out.append(w)
    return out[0], out[1]


def _fourier_resample(w: torch.Tensor, n: int) -> torch.Tensor:
    """Periodic fields ``(..., m, m)`` on an ``n x n`` grid by truncating or zero-padding
    their Fourier series (the Nyquist modes are dropped)."""
    m = w.shape[-1]
    if m == n:
        return w
    w_hat = torch.fft.fft2(w, norm="forward")
    k = min(m, n) // 2
    out = w_hat.new_zeros(*w.shape[:-2], n, n)
    for xs_in, xs_out in ((slice(0, k), slice(0, k)), (slice(m - k + 1, m), slice(n - k + 1, n))):
        for ys_in, ys_out in ((slice(0, k), slice(0, k)), (slice(m - k + 1, m), slice(n - k + 1, n))):
            out[..., xs_out, ys_out] = w_hat[..., xs_in, ys_in]
    return torch.fft.ifft2(out, norm="forward").real


def solver_rows(cfg, x, y, device, repeats):
    """The IMEX solver from the last input frame at the reference and coarser grids."""
    rows = []
    for res in (cfg["solver_res"],) + tuple(cfg["coarse"]):
        dt = cfg["dt"] * cfg["solver_res"] / res  # a fixed CFL number
        problem = NavierStokes(resolution=res, viscosity=1e-3, t_end=FRAME_DT * cfg["t_out"],
                               n_times=cfg["t_out"] + 1, dt=dt)
        w0 = _fourier_resample(x[:, 0, -1].to(device, torch.float64), res)
        seconds, w = _median_time(lambda: problem.solve(w0), repeats if res != cfg["solver_res"] else 1)
        pred = _fourier_resample(w[:, None, 1:], cfg["solver_res"]).cpu()
        rows.append({"method": f"solver {res}^2 (dt {dt:g})", "seconds": seconds,
                     "error": float(BochnerL2()(pred, y))})
    return rows


class _NextFrame(torch.utils.data.Dataset):
    """(T_in frames as channels, next frame) pairs from ``TrajectoryWindows`` items."""

    def __init__(self, trajectories: torch.Tensor, t_in: int, stride: int):
        self.windows = TrajectoryWindows(trajectories, t_in, 1, stride=stride)

    def __len__(self):
        return len(self.windows)

    def __getitem__(self, k):
        item = self.windows[k]  # one field: (1, t_in, s, s) and (1, 1, s, s)
        return {"x": item["x"][0], "y": item["y"][0]}


def fno_baseline(params: int, t_in: int, modes: int):
    """neuraloperator's FNO-2D (4 layers, ``modes`` per dimension in total) with the hidden
    width whose parameter count is closest to ``params``."""
    best = None
    for hidden in range(8, 129, 2):
        model = fno(n_modes=(modes, modes), in_channels=t_in, out_channels=1, hidden_channels=hidden)
        count = sum(p.numel() for p in model.parameters())
        if best is None or abs(count - params) < abs(best[1] - params):
            best = (hidden, count)
        if count > params:
            break
    return fno(n_modes=(modes, modes), in_channels=t_in, out_channels=1, hidden_channels=best[0])


def rollout(model, x: torch.Tensor, steps: int) -> torch.Tensor:
    """Autoregressive roll-out of a next-frame model (frames as channels) in the SFNO
    layout: ``(b, 1, T_in, s, s) -> (b, 1, steps, s, s)``."""
    window, frames = x[:, 0], []
    for _ in range(steps):
        nxt = model(window)
        frames.append(nxt)
        window = torch.cat([window[:, 1:], nxt], dim=1)
    return torch.cat(frames, dim=1)[:, None]


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="CI-sized smoke run")
    group.add_argument("--full", action="store_true", help="the paper's scale (GPU)")
    parser.add_argument("--cache", default=str(ROOT / "benchmarks" / "_data"), help="trajectory cache directory")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    cfg = SETTINGS["quick" if args.quick else "full" if args.full else "cpu"]
    device = torch.device(args.device)
    torch.manual_seed(0)
    train_w, test_w = generate(cfg, Path(args.cache), device)
    factor = cfg["solver_res"] // cfg["train_res"]
    train_set = TrajectoryWindows(train_w[:, :, ::factor, ::factor], cfg["t_in"], cfg["t_out"], stride=cfg["stride"])
    test = TrajectoryWindows(test_w, cfg["t_in"], cfg["t_out"], stride=cfg["t_in"] + cfg["t_out"], dtype=torch.float64)
    x = torch.stack([test[k]["x"] for k in range(len(test))])
    y = torch.stack([test[k]["y"] for k in range(len(test))])
    print(f"{len(train_set)} training windows at {cfg['train_res']}^2, {len(x)} test windows at {cfg['solver_res']}^2")

    rows = solver_rows(cfg, x, y, device, args.repeats)

    sfno = SFNO(modes=cfg["modes"], width=cfg["width"], latent_steps=cfg["latent"], out_steps=cfg["t_out"])
    n_params = sum(p.numel() for p in sfno.parameters())
    start = time.perf_counter()
    train_sfno(sfno, train_set, epochs=cfg["epochs"], batch_size=4, progress=False, device=device)
    train_s = time.perf_counter() - start
    sfno.eval()
    xd = x.to(device, torch.float32)
    with torch.no_grad():
        seconds, pred = _median_time(lambda: sfno(xd), args.repeats)
    rows.append({"method": "SFNO", "seconds": seconds, "error": float(BochnerL2()(pred.double().cpu(), y)),
                 "params": n_params, "train_s": train_s})

    problem = NavierStokes(resolution=cfg["solver_res"], viscosity=1e-3, dt=cfg["dt"])
    k = min(cfg["n_refine"], len(x))
    result = refine(sfno, x[:k].to(device), problem, FRAME_DT, reference=y[:k].to(device),
                    iterations=cfg["iterations"])
    summary = result.summary()
    rows.append({"method": f"SFNO + refine ({cfg['iterations']} steps)", "seconds": seconds + summary["seconds"] / k * len(x),
                 "error": summary["error_after"], "error_before": summary["error_before"],
                 "eta_before": summary["eta_before"], "eta_after": summary["eta_after"],
                 "worst_frame_ratio": summary["worst_frame_ratio"], "windows": k})

    base = fno_baseline(n_params, cfg["t_in"], 2 * cfg["modes"][0])
    base_params = sum(p.numel() for p in base.parameters())
    start = time.perf_counter()
    steps = cfg["epochs"] * math.ceil(len(_NextFrame(train_w[:, :, ::factor, ::factor], cfg["t_in"], cfg["stride"])) / 4)
    Trainer(base, loss=LpLoss(d=2), max_epochs=cfg["epochs"], batch_size=4, progress=False, device=device,
            optimizer=lambda p: torch.optim.Adam(p, lr=3e-3),
            scheduler=lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=3e-3, total_steps=steps),
            scheduler_interval="step").fit(_NextFrame(train_w[:, :, ::factor, ::factor], cfg["t_in"], cfg["stride"]))
    base_train_s = time.perf_counter() - start
    base.eval()
    with torch.no_grad():
        seconds, pred = _median_time(lambda: rollout(base, xd, cfg["t_out"]), args.repeats)
    rows.append({"method": "FNO-2D roll-out (neuraloperator)", "seconds": seconds,
                 "error": float(BochnerL2()(pred.double().cpu(), y)), "params": base_params, "train_s": base_train_s})

    ref_seconds = rows[0]["seconds"]
    print(f"\n{len(x)} windows of {cfg['t_in']} -> {cfg['t_out']} frames (dt {FRAME_DT}) at {cfg['solver_res']}^2; "
          f"device {device}; times per window batch (median of {args.repeats})")
    print(f"{'method':<34} {'rel. L2':>9} {'seconds':>9} {'vs solver':>9}")
    for r in rows:
        print(f"{r['method']:<34} {r['error']:9.2e} {r['seconds']:9.3f} {ref_seconds / r['seconds']:8.1f}x")
    ref = rows[-2]
    print(f"\nrefinement on {ref['windows']} windows: eta {ref['eta_before']:.2e} -> {ref['eta_after']:.2e} "
          f"({ref['eta_before'] / ref['eta_after']:.0f}x), error {ref['error_before']:.2e} -> {ref['error']:.2e} "
          f"({ref['error_before'] / ref['error']:.1f}x), worst per-frame error ratio {ref['worst_frame_ratio']:.2f}")
    print(f"parameters: SFNO {n_params:,}, FNO-2D {base_params:,}; training: SFNO {rows[-3]['train_s']:.0f} s, "
          f"FNO-2D {base_train_s:.0f} s")
    return {r["method"]: r for r in rows}


if __name__ == "__main__":
    torch.set_num_threads(min(2, os.cpu_count() or 1)) if not torch.cuda.is_available() else None
    main()
