"""``sciml quickstart``: generate Darcy data, train a neural operator, test it at a finer
resolution.

1. Data: the FNO Darcy problem (``problems.Darcy``: 12/3 thresholded Gaussian random
   permeability, ``-div(a grad u) = 1``) solved by the built-in multigrid at 33^2 for
   training and testing, and at 65^2 for a zero-shot test, written to HDF5 by
   ``Problem.generate`` (resumable).
2. Model: neuraloperator's FNO (the operator baseline of this package), with scalar
   Gaussian normalisation of inputs and outputs carried in its state.
3. Training: the package's Trainer from a run configuration, as ``sciml train``
   would do, with a relative H1 loss (finite differences, one-sided on the boundary).
4. Evaluation: relative L2 and H1 at 33^2 and zero-shot at 65^2, a table and a figure
   (input, truth, prediction, error) at 65^2.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

__all__ = ["run"]


def run(quick: bool = False, out_dir: str | Path = "outputs/quickstart", seed: int = 0,
        threads: int | None = None) -> dict:
    """Run the quickstart; returns the metrics table as a dict and writes
    ``quickstart.png`` (and the data and checkpoints) under ``out_dir``."""
    from problems import Darcy
    from sciml.train.config import load_config
    from sciml.train.run import build_run

    out = Path(out_dir)
    if threads:
        torch.set_num_threads(threads)
    n_train, n_test, epochs = (160, 32, 6) if quick else (600, 100, 25)
    start = time.perf_counter()
    files = {}
    for name, (s, n, data_seed) in {"train": (33, n_train, seed), "test33": (33, n_test, seed + 1),
                                    "test65": (65, n_test, seed + 2)}.items():
        files[name] = Darcy(resolution=s).generate(n, out / "data" / f"darcy_{name}_{n}.h5", seed=data_seed,
                                                   chunk_size=64, progress=False)
    data_seconds = time.perf_counter() - start
    cfg = load_config(None, base={
        "seed": seed, "out_dir": str(out / "run"),
        "data": {"format": "h5", "train": str(files["train"]),
                 "test": {"33": str(files["test33"]), "65 (zero-shot)": str(files["test65"])},
                 "normalize_inputs": "scalar", "normalize_outputs": "scalar"},
        "model": {"name": "fno", "n_modes": [12, 12], "hidden_channels": 32},
        "optimizer": {"name": "adamw", "lr": 5e-3, "weight_decay": 1e-4},
        "scheduler": {"name": "cosine"},
        "loss": {"name": "h1", "args": {"periodic": False, "method": "fd"}},
        "metrics": ["l2", "h1"],
        "trainer": {"max_epochs": epochs, "batch_size": 20, "progress": False, "monitor": "33/l2"},
    })
    torch.manual_seed(seed)
    trainer, train_set = build_run(cfg)
    start = time.perf_counter()
    history = trainer.fit(train_set, resume=None)
    train_seconds = time.perf_counter() - start
    shown = history[:: max(1, len(history) // 6)]
    for row in shown + ([history[-1]] if history[-1] is not shown[-1] else []):
        print(f"  epoch {row['epoch']:3d}  train H1 {row['train/loss']:.4f}  test L2 {row['33/l2']:.4f}")
    metrics = trainer.evaluate()
    figure = _plot(trainer.model, trainer.eval_sets["65 (zero-shot)"], out)
    return {"data_seconds": data_seconds, "train_seconds": train_seconds, "epochs": epochs,
            "n_train": n_train, "metrics": metrics, "figure": str(figure),
            "parameters": sum(p.numel() for p in trainer.model.parameters())}


@torch.no_grad()
def _plot(model, dataset, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    item = dataset[0]
    model.eval()
    pred = model(item["x"][None])[0, 0]
    panels = [("permeability a", item["x"][0]), ("solution u (multigrid)", item["y"][0]),
              ("FNO prediction", pred), ("error", pred - item["y"][0])]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
    for ax, (title, field) in zip(axes, panels):
        limit = float(field.abs().max())
        style = {"cmap": "RdBu_r", "vmin": -limit, "vmax": limit} if title == "error" else {"cmap": "viridis"}
        im = ax.imshow(field.numpy(), origin="lower", extent=(0, 1, 0, 1), **style)
        ax.set_title(title)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("Darcy flow at 65x65, zero-shot (trained at 33x33)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "quickstart.png"
    tmp = path.with_name(".quickstart.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path
