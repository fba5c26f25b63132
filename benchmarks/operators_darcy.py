"""Neural operators on Darcy flow through one Trainer: neuraloperator's FNO against MgNO
and LSM, same data, epochs, loss and process.

Settings:
* ``darcy16``: neuraloperator's own small set (1000 train at 16^2, tests: 50 at 16^2 and
  50 zero-shot at 32^2), the protocol of ``configs/darcy16_fno.yaml`` (15 epochs,
  batch 32, cosine schedule, H1 loss with neuraloperator's periodic differences).
* ``darcy64``: ``problems.Darcy`` at 64^2 (1000 train / 200 test) with a zero-shot test
  at 128^2 (``--n-train`` / ``--epochs`` to shorten).

Per model: parameters, relative L2 and H1 at each test resolution, seconds per epoch,
inference samples per second at the training resolution. MgNO uses AdamW 3e-3 with a
one-cycle schedule (the paper's schedule shape, stepped per step), 12 channels and 5
levels, so that its parameter count (117,648) is close to the FNO's (99,721); FNO the neuraloperator
protocol (AdamW 1e-2, cosine); LSM width 8 (its smallest: 8 attention heads; ~0.3 M
parameters), AdamW 1e-3, cosine, with the grid zero-padded to 16 x patch. The LSM
reference trains LSM 501 epochs and MgNO 500: these short runs compare models at equal,
small budgets, not the papers' converged numbers.

    python benchmarks/operators_darcy.py --setting darcy16
    python benchmarks/operators_darcy.py --setting darcy64 --epochs 20
    python benchmarks/operators_darcy.py --quick            # CI-sized smoke run
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from sciml.app import build_run, load_config

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT.parent / "shared" / "data" / "neuraloperator"

MODELS = {
    "fno": {"model": {"name": "fno", "n_modes": [8, 8], "hidden_channels": 24, "projection_channel_ratio": 2},
            "optimizer": {"name": "adamw", "lr": 1e-2, "weight_decay": 1e-4}, "scheduler": {"name": "cosine",
                                                                                            "T_max": 30}},
    "mgno": {"model": {"name": "mgno", "channels": 12, "n_layers": 4,
                       "num_iteration": [[1, 0], [1, 0], [1, 0], [1, 0], [2, 0]]},
             "optimizer": {"name": "adamw", "lr": 3e-3, "weight_decay": 1e-4},
             "scheduler": {"name": "onecycle", "pct_start": 0.2, "div_factor": 2.0, "final_div_factor": 100.0,
                           "interval": "step"}},
    # patch and padding are set per grid in run_model (padded side = 16 x patch)
    "lsm": {"model": {"name": "lsm", "width": 8, "num_basis": 12, "num_token": 4},
            "optimizer": {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4}, "scheduler": {"name": "cosine"}},
}


def _lsm_grid(n: int) -> dict:
    """The smallest patch whose 16 x patch grid holds n, and the padding to reach it."""
    patch = max(1, -(-n // 16))
    return {"patch": patch, "padding": [16 * patch - n, 16 * patch - n]}


def data_files(setting: str, out: Path, n_train: int, quick: bool) -> dict:
    if setting == "darcy16":
        if not SMALL.is_dir():
            raise SystemExit(f"neuraloperator's small Darcy set is not at {SMALL}")
        return {"format": "pt", "train": str(SMALL / "darcy_train_16.pt"),
                "test": {"16": str(SMALL / "darcy_test_16.pt"), "32": str(SMALL / "darcy_test_32.pt")},
                "n_train": n_train, "normalize_inputs": "none", "normalize_outputs": "scalar"}
    from problems import Darcy

    coarse, fine = (32, 64) if quick else (64, 128)
    n_test = 20 if quick else 200
    files = {name: Darcy(resolution=s).generate(n, out / f"darcy_{name}.h5", seed=seed, progress=False)
             for name, s, n, seed in (("train", coarse, n_train, 0), ("test", coarse, n_test, 1),
                                      ("fine", fine, n_test, 2))}
    return {"format": "h5", "train": str(files["train"]),
            "test": {str(coarse): str(files["test"]), str(fine): str(files["fine"])},
            "normalize_inputs": "scalar", "normalize_outputs": "scalar"}


def run_model(name: str, data: dict, epochs: int, out: Path, seed: int, grid: int, batch: int) -> dict:
    spec = {**MODELS[name]}
    if name == "lsm":
        spec["model"] = {**spec["model"], **_lsm_grid(grid)}
    cfg = load_config(None, base={
        "seed": seed, "out_dir": str(out / name), "data": data, **spec,
        "loss": {"name": "h1", "args": {"periodic": True, "method": "fd"}}, "metrics": ["l2", "h1"],
        "trainer": {"max_epochs": epochs, "batch_size": batch, "progress": False}})
    trainer, train = build_run(cfg)  # seeds the initialisation with cfg.seed
    start = time.perf_counter()
    trainer.fit(train, fresh=True)
    per_epoch = (time.perf_counter() - start) / epochs
    metrics = trainer.evaluate()
    first = next(iter(trainer.eval_sets.values()))
    x = torch.stack([first[i]["x"] for i in range(len(first))])
    trainer.model.eval()
    with torch.no_grad():
        trainer.model(x)
        start = time.perf_counter()
        trainer.model(x)
        rate = len(x) / (time.perf_counter() - start)
    return {"params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad), "epoch_s": per_epoch,
            "infer_per_s": rate, **metrics}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", choices=["darcy16", "darcy64"], default="darcy16")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--quick", action="store_true", help="a CI-sized smoke run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="outputs/operators_darcy")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    n_train = 64 if args.quick else args.n_train
    epochs = 2 if args.quick else (args.epochs or 15)
    setting = "darcy64" if args.quick else args.setting
    data = data_files(setting, out / "data", n_train, args.quick)
    tests = list(data["test"])
    batch = 8 if args.quick else (32 if data["format"] == "pt" else 16)
    rows = {name: run_model(name, data, epochs, out, args.seed, int(tests[0]), batch) for name in args.models}
    print(f"{setting}: {n_train} training samples, {epochs} epochs, seed {args.seed}, {args.threads} thread(s); "
          f"relative errors, zero-shot at {tests[-1]}^2")
    header = "".join(f"{f'L2 {t}':>10}{f'H1 {t}':>10}" for t in tests)
    print(f"{'model':<8}{'params':>10}{header}{'s/epoch':>9}{'infer/s':>9}")
    for name, r in rows.items():
        cells = "".join(f"{r[f'{t}/l2']:>10.4f}{r[f'{t}/h1']:>10.4f}" for t in tests)
        print(f"{name:<8}{r['params']:>10,}{cells}{r['epoch_s']:>9.1f}{r['infer_per_s']:>9.0f}")
    return rows


if __name__ == "__main__":
    main()
