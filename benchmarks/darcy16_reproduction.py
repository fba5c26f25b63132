"""neuraloperator's Darcy-16 example reproduced through sciml's Trainer, next to
neuraloperator's own Trainer on the same data, in one process.

Protocol (neuraloperator's ``plot_FNO_darcy`` example): FNO(n_modes=(8, 8), hidden 24,
projection ratio 2), AdamW lr 1e-2 weight decay 1e-4, cosine schedule T_max 30, H1
training loss, batch 32, 15 epochs, 1000 training samples at 16^2; relative L2 and H1
on 50 test samples at 16^2 and zero-shot on 50 at 32^2. Outputs are normalised by a
channel-wise (scalar) Gaussian normaliser fitted on the training outputs.

sciml runs ``configs/darcy16_fno.yaml`` (its H1 loss uses periodic central differences,
as neuraloperator's default ``H1Loss``). neuraloperator runs its Trainer with its
``H1Loss(d=2)`` and ``DefaultDataProcessor``. Both start from the same seed; the
weights differ (different initialisation order), so compare the errors, not digits.

    python benchmarks/darcy16_reproduction.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from sciml.app import build_run, load_config

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "neuraloperator"


def sciml_run(seed: int, out: Path) -> dict:
    cfg = load_config(ROOT / "configs" / "darcy16_fno.yaml",
                      [f"seed={seed}", f"out_dir={out / f'sciml_{seed}'}", "trainer.progress=false",
                       f"data.train={DATA / 'darcy_train_16.pt'}",
                       f"data.test={{res16: {DATA / 'darcy_test_16.pt'}, res32: {DATA / 'darcy_test_32.pt'}}}"])
    trainer, train = build_run(cfg)  # seeds the initialisation with cfg.seed
    trainer.fit(train, fresh=True)
    return trainer.evaluate()


def neuralop_run(seed: int) -> dict:
    from neuralop.data.transforms.data_processors import DefaultDataProcessor
    from neuralop.data.transforms.normalizers import UnitGaussianNormalizer
    from neuralop.losses import H1Loss, LpLoss
    from neuralop.models import FNO
    from neuralop.training import Trainer

    def load(name):
        d = torch.load(DATA / name, weights_only=True)
        return [{"x": x[None].float(), "y": y[None].float()} for x, y in zip(d["x"], d["y"])]

    train = load("darcy_train_16.pt")
    tests = {16: load("darcy_test_16.pt"), 32: load("darcy_test_32.pt")}
    y = torch.stack([s["y"] for s in train])
    out_norm = UnitGaussianNormalizer(dim=[0, 2, 3])
    out_norm.fit(y)
    processor = DefaultDataProcessor(in_normalizer=None, out_normalizer=out_norm)
    torch.manual_seed(seed)
    model = FNO(n_modes=(8, 8), in_channels=1, out_channels=1, hidden_channels=24, projection_channel_ratio=2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30)
    g = torch.Generator().manual_seed(seed)
    loader = DataLoader(train, batch_size=32, shuffle=True, generator=g)
    test_loaders = {k: DataLoader(v, batch_size=32) for k, v in tests.items()}
    l2, h1 = LpLoss(d=2, p=2), H1Loss(d=2)
    trainer = Trainer(model=model, n_epochs=15, device="cpu", data_processor=processor, verbose=False)
    trainer.train(loader, test_loaders, opt, sched, training_loss=h1, eval_losses={"h1": h1, "l2": l2})
    model.eval()
    out = {}
    with torch.no_grad():
        for res, data in tests.items():
            x = torch.stack([s["x"] for s in data])
            truth = torch.stack([s["y"] for s in data])
            pred = out_norm.inverse_transform(model(x))
            out[f"res{res}/l2"] = l2(pred, truth).item() / len(data)
            out[f"res{res}/h1"] = h1(pred, truth).item() / len(data)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", default="outputs/darcy16_reproduction")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not DATA.is_dir():
        raise SystemExit(f"neuraloperator's small Darcy set is not at {DATA}")
    results = {"sciml Trainer": [], "neuraloperator Trainer": []}
    seconds = {k: [] for k in results}
    for seed in args.seeds:
        start = time.perf_counter()
        results["sciml Trainer"].append(sciml_run(seed, Path(args.out)))
        seconds["sciml Trainer"].append(time.perf_counter() - start)
        start = time.perf_counter()
        results["neuraloperator Trainer"].append(neuralop_run(seed))
        seconds["neuraloperator Trainer"].append(time.perf_counter() - start)
    print(f"Darcy-16 (neuraloperator's set), FNO 8x8 modes hidden 24, 15 epochs; seeds {args.seeds}; "
          f"medians (min-max) of relative errors, {args.threads} thread(s)")
    keys = ["res16/l2", "res16/h1", "res32/l2", "res32/h1"]
    print(f"{'':<24}" + "".join(f"{k:>22}" for k in keys) + f"{'s / run':>9}")
    for name, runs in results.items():
        cells = []
        for k in keys:
            v = [r[k] for r in runs]
            cells.append(f"{statistics.median(v):.4f} ({min(v):.3f}-{max(v):.3f})")
        print(f"{name:<24}" + "".join(f"{c:>22}" for c in cells) + f"{statistics.median(seconds[name]):>9.1f}")


if __name__ == "__main__":
    main()
